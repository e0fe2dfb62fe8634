"""Untrusted text made safe to show: article and question text is always rendered literally.

Everything from an article or a user goes through `literal()`: it becomes a `rich.text.Text` (so `[bold]`,
`[link=…]` or `[@click=…]` are just characters, never markup) and control characters, ANSI escapes
included, are replaced by their visible Unicode control pictures (ESC shows as ␛). Names (titles, paths, ids)
go through `literal_line`, which shows a line break as ␊: a name is one line.
"""

from __future__ import annotations

from rich.text import Text

from qa.present.terminal import printable, printable_line


def literal(text: str, style: str = "") -> Text:
    return Text(printable(text), style=style)


def literal_line(text: str, style: str = "") -> Text:
    return Text(printable_line(text), style=style)


def highlighted(text: str, start: int, end: int, style: str = "reverse bold") -> Text:
    """`text` shown literally with `text[start:end]` highlighted; the offsets are moved past the symbols that
    replace control characters (an 8-bit one shows as several characters)."""
    shown = literal(text)
    shown.stylize(style, len(printable(text[:start])), len(printable(text[:end])))
    return shown
