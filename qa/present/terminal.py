"""Text made safe for a terminal: article text, file names and questions are untrusted input.

Control characters (ANSI escapes included, and the 8-bit C1 ones such as CSI U+009B that some terminals obey)
would rename the window, clear the screen or colour it; here they become visible symbols instead. Every path
that prints such text goes through `printable`, and every name (a file or folder, a title, an id, a one-line
message) through `printable_line`, which shows line breaks too: a newline in a file name must not forge a line
of a citation.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
# Inside JSON strings: C1 controls, bidirectional overrides (which reorder what a terminal shows), line
# separators and lone surrogates (a file name's undecodable byte) become \uXXXX escapes; the decoded value is
# unchanged, and the output is valid UTF-8 that a terminal shows as it is.
_JSON_UNSAFE = re.compile(r"[\x7f-\x9f\u202a-\u202e\u2028\u2029\u2066-\u2069\ud800-\udfff]")


def _visible(match: re.Match) -> str:
    char = match.group()
    if char < "\x20":
        return chr(0x2400 + ord(char))  # the U+2400 block: ␛ for ESC
    if char == "\x7f":
        return "␡"
    if char <= "\x9f" or char < "\ud800":  # C1 controls, bidirectional overrides
        return f"<U+{ord(char):04X}>"
    return f"\\x{ord(char) - 0xDC00:02x}" if ord(char) >= 0xDC80 else "\ufffd"  # an undecodable file-name byte


def printable(text: str) -> str:
    """Control characters other than newline and tab become visible symbols; text is always encodable."""
    return _CONTROL.sub(_visible, text)


def printable_line(text: str) -> str:
    """As `printable`, and newlines and tabs shown as ␊ and ␉: the text stays on the one line it is given."""
    return printable(text).replace("\n", "\u240a").replace("\t", "\u2409")


def json_text(data) -> str:
    """Indented JSON whose strings are exact once decoded, and whose text is safe UTF-8 for a terminal."""
    import json

    text = json.dumps(data, ensure_ascii=False, indent=2)
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
