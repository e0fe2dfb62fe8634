"""Untrusted text made safe to show: article and question text is always rendered literally.

Everything from an article or a user goes through `literal()`: it becomes a `rich.text.Text` (so `[bold]`,
`[link=…]` or `[@click=…]` are just characters, never markup) and control characters, ANSI escapes
included, are replaced by their visible Unicode control pictures (ESC shows as ␛).
"""

from __future__ import annotations

from rich.text import Text

from qa.terminal import printable


def literal(text: str, style: str = "") -> Text:
    return Text(printable(text), style=style)


def highlighted(text: str, start: int, end: int, style: str = "reverse bold") -> Text:
    """`text` shown literally with `text[start:end]` highlighted (same length: offsets stay valid)."""
    shown = literal(text)
    shown.stylize(style, start, end)
    return shown
