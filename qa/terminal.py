"""Text made safe for a terminal: article text, file names and questions are untrusted input.

Control characters (ANSI escapes included) would rename the window, clear the screen or colour it; here they
become visible symbols instead. Every path that prints such text goes through `printable`.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def printable(text: str) -> str:
    """Control characters other than newline and tab become visible symbols (U+2400 block; DEL is ␡)."""
    return _CONTROL.sub(lambda m: "␡" if m.group() == "\x7f" else chr(0x2400 + ord(m.group())), text)
