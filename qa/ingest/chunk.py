"""Sentence-aware chunks: runs of whole sentences that fit the embedding model's token budget. Chunks are the passages
retrieval returns; they are not embedded (a chunk's dense score is its best sentence's, qa.index.local.store) but
BM25-indexed, with the article's title."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from qa.text.sentences import Sentence, normalise_space

DEFAULT_CHUNK_TOKENS = 128
DEFAULT_OVERLAP_SENTENCES = 1


@dataclass(frozen=True)
class Chunk:
    """A passage: sentences `first..last` (inclusive) of one article, and its text."""

    position: int
    first: int
    last: int
    text: str


def bm25_text(title: str, chunk_text: str, with_title: bool) -> str:
    """The text a chunk is BM25-indexed as: a headline gives every passage of an article its topic."""
    return f"{title}. {chunk_text}" if with_title and title else chunk_text


def chunk_sentences(
    sentences: Sequence[Sentence],
    count_tokens: Callable[[Sequence[str]], list[int]],
    max_tokens: int = DEFAULT_CHUNK_TOKENS,
    overlap: int = DEFAULT_OVERLAP_SENTENCES,
) -> list[Chunk]:
    """Greedily pack whole sentences up to `max_tokens`, each chunk repeating the previous one's last
    `overlap` sentences so that an answer spanning a boundary is still inside one passage.
    A single sentence over the budget becomes a chunk of its own."""
    if not sentences:
        return []
    texts = [normalise_space(s.text) for s in sentences]
    lengths = count_tokens(texts)
    chunks: list[Chunk] = []
    start = 0
    while start < len(sentences):
        end, used = start, lengths[start]
        while end + 1 < len(sentences) and used + lengths[end + 1] <= max_tokens:
            end += 1
            used += lengths[end]
        chunks.append(Chunk(len(chunks), start, end, " ".join(texts[start : end + 1])))
        if end + 1 >= len(sentences):
            break
        start = max(end + 1 - overlap, start + 1)
    return chunks
