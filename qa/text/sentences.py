"""Sentence boundaries with character offsets into the original text.

blingfire does the splitting (it knows "U.S.", "Calif.", "p.m." and splits inside multi-sentence quotes); we
first cut the text into paragraphs, because news text puts one paragraph on a line and a headline or a
byline has no final full stop. Every edit made before splitting keeps the text's length, so offsets need
no mapping table: `text[s.start:s.end] == s.text` for every sentence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_SENTENCE_END = (".", "!", "?", ":", '"', "”", "’", "'", ")", "…")
_SOFT_WRAP_MIN = 60  # a line shorter than this is a heading, byline or list item, never wrapped prose
_BLOCK_MARKUP = re.compile(r"^[ \t]*(?:#{1,6}[ \t]+|>[ \t]?|[-*+][ \t]+|\d{1,3}[.)][ \t]+)", re.M)
_WHITESPACE = re.compile(r"\s")
_HAS_WORD = re.compile(r"\w")
# A "sentence" longer than this (a 2 MB line with no full stop) is cut at white space into pieces this long at
# most, so that no citation is megabytes long; real news sentences stay far below it.
MAX_SENTENCE_CHARS = 1500
# Terminal control sequences in article text: CSI (ESC [ or U+009B, parameters, a final letter), OSC and the
# other string commands (ESC ] … up to BEL or ESC \), any other escape, and single control characters (a lone
# 8-bit one is usually mis-decoded text, so it takes nothing after it with it).
_CONTROL_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|\x1b[\]PX^_][^\x07\x1b]{0,512}(?:\x07|\x1b\\)"
    r"|\x1b[ -/]*[0-~]?"
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"
)


@dataclass(frozen=True)
class Sentence:
    """A sentence of an article: its position, its span in the article text, and that span's text."""

    position: int
    start: int
    end: int
    text: str


def without_controls(text: str) -> str:
    """`text` with every control sequence blanked out, at the same length: what an answer span may be taken
    from ("31m" of ESC[31m is not an answer)."""
    return _CONTROL_SEQUENCE.sub(lambda m: " " * len(m.group()), text)


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    """Spans of paragraphs: blank lines always separate; a single newline does unless the line is wrapped prose."""
    spans: list[tuple[int, int]] = []
    start = None
    offset = 0
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        content = line.strip()
        if content and start is None:
            start = offset
        offset += len(line)
        if start is None:
            continue
        next_line = lines[i + 1].strip() if i + 1 < len(lines) else ""
        wrapped = len(content) >= _SOFT_WRAP_MIN and not content.endswith(_SENTENCE_END) and next_line
        if not content or not wrapped:
            end = offset - (len(line) - len(line.rstrip()))
            if end > start:
                spans.append((start, end))
            start = None
    return spans


def normalise_space(text: str) -> str:
    """Collapse runs of white space: the form we embed and match, never the form we cite."""
    return " ".join(text.split())


def split_sentences(text: str, skip: Iterable[tuple[int, int]] = ()) -> list[Sentence]:
    """Split `text` into sentences; spans in `skip` (a dateline, say) are left out of every sentence."""
    import blingfire

    masked = list(_BLOCK_MARKUP.sub(lambda m: " " * len(m.group()), text))
    for start, end in skip:
        masked[start:end] = ["\n" if ch == "\n" else " " for ch in text[start:end]]
    masked_text = "".join(masked)
    sentences: list[Sentence] = []
    for block_start, block_end in paragraph_spans(masked_text):
        block = _WHITESPACE.sub(" ", masked_text[block_start:block_end])
        _, offsets = blingfire.text_to_sentences_and_offsets(block)
        for start, end in offsets:
            piece = block[start:end]
            lead = len(piece) - len(piece.lstrip())
            trail = len(piece) - len(piece.rstrip())
            for s, e in _bounded(text, block_start + start + lead, block_start + end - trail):
                if _HAS_WORD.search(text[s:e]):
                    sentences.append(Sentence(len(sentences), s, e, text[s:e]))
    return sentences


def _bounded(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The span cut at white space (or hard, when there is none) into pieces of at most MAX_SENTENCE_CHARS."""
    pieces = []
    while end - start > MAX_SENTENCE_CHARS:
        cut = max(text.rfind(space, start + MAX_SENTENCE_CHARS // 2, start + MAX_SENTENCE_CHARS) for space in " \n\t")
        cut = cut if cut > start else start + MAX_SENTENCE_CHARS
        pieces.append((start, len(text[start:cut].rstrip()) + start))
        start = cut
        while start < end and text[start].isspace():
            start += 1
    if end > start:
        pieces.append((start, end))
    return pieces
