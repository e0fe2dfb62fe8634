"""Untrusted text made safe to show: article and question text is always rendered literally.

Everything from an article or a user goes through `literal()`: it becomes a `rich.text.Text` (so `[bold]`,
`[link=…]` or `[@click=…]` are just characters, never markup) and control characters, ANSI escapes
included, are replaced by their visible Unicode control pictures (ESC shows as ␛).
"""

from __future__ import annotations

import re

from rich.text import Text

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def printable(text: str) -> str:
    """Control characters other than newline and tab become visible symbols (U+2400 block)."""
    return _CONTROL.sub(lambda m: "␡" if m.group() == "\x7f" else chr(0x2400 + ord(m.group())), text)


def literal(text: str, style: str = "") -> Text:
    return Text(printable(text), style=style)


def highlighted(text: str, start: int, end: int, style: str = "reverse bold") -> Text:
    """`text` shown literally with `text[start:end]` highlighted (same length: offsets stay valid)."""
    shown = literal(text)
    shown.stylize(style, start, end)
    return shown
