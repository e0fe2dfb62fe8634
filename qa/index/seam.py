"""The storage seam: what retrieval and answering need from an index, and what indexing needs from a store.

`IndexReader` is one opened, consistent version of an index; `IndexStore` is where indexes are kept (opened, updated,
checked). Retrieval (`qa.retrieve.retriever`), the answer stage (`qa.answer.candidates`) and the `Assistant` talk to
these protocols only. There are two backends, the local one (`qa.index.local.store`: generations of segments in a
folder) and Milvus (`qa.index.milvus`); `qa.index.open_store` is the factory that chooses one for a location, and what
an update reads, embeds and prepares is decided above them, once (`qa.index.update`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from qa.ingest.chunk import DEFAULT_CHUNK_TOKENS, DEFAULT_OVERLAP_SENTENCES

# BM25 runs over two collections: passages (chunks) for retrieval, sentences for the answer stage.
BM25_COLLECTIONS = ("chunks", "sentences")
# progress(stage, done, total): called as work advances; the CLI draws bars, the UI a progress widget.
Progress = Callable[[str, int, int], None]


def no_progress(stage: str, done: int, total: int) -> None:
    return None


@dataclass(frozen=True)
class IndexParams:
    """Everything that decides what the vectors mean; an index is only reused under the same params."""

    model_id: str
    precision: str = "fp32"
    chunk_tokens: int = DEFAULT_CHUNK_TOKENS
    overlap: int = DEFAULT_OVERLAP_SENTENCES
    title_in_chunks: bool = True


@dataclass
class UpdateReport:
    """What an index update did: ids added, changed and removed, and how many texts it embedded."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    embedded: int = 0
    skipped: int = 0
    seconds: float = 0.0

    @property
    def up_to_date(self) -> bool:
        return not (self.added or self.changed or self.removed)


@dataclass(frozen=True)
class IndexedFile:
    """What a store records of an indexed article's file: its resolved path, size, mtime and hash; the first
    three tell by stat alone whether the file changed."""

    path: str
    size: int
    mtime_ns: int
    sha256: str

    @property
    def stat(self) -> tuple[str, int, int]:
        return self.path, self.size, self.mtime_ns


@dataclass(frozen=True)
class ArticleRow:
    id: str
    title: str
    date: str | None
    path: str
    sha256: str
    size: int
    mtime_ns: int
    author: str | None = None
    source: str | None = None
    url: str | None = None
    pages: tuple[int, ...] = ()  # where the pages of a PDF start in the article text


@dataclass(frozen=True)
class SentenceRow:
    row: int
    article_id: str
    position: int
    start: int
    end: int
    text: str
    # What the answer step reads of the sentence, found when it was indexed (qa.answer.candidates.terms_of and
    # mentions_of); None from a store that does not keep them, which then finds them at question time
    terms: str | None = None
    mentions: str | None = None


@dataclass(frozen=True)
class ChunkRow:
    row: int
    article_id: str
    position: int
    first_sentence_row: int
    last_sentence_row: int
    text: str


@dataclass(frozen=True)
class Scope:
    """The articles a filter allows, as one backend searches them (made by `IndexReader.scope`)."""

    articles: frozenset[str]
    chunks: int  # how many chunks those articles have: 0 means there is nothing to search
    payload: object = None  # the backend's own form: row masks for the local backend, a filter for Milvus


class IndexReader(Protocol):
    """One opened version of an index. Sentences and chunks are named by integer rows; an article's sentence
    rows are consecutive, so a chunk is a range of them."""

    @property
    def model_id(self) -> str: ...

    @property
    def params(self) -> IndexParams:
        """What the vectors mean: model, precision, chunking."""
        ...

    @property
    def counts(self) -> dict[str, int]:
        """articles, chunks and sentences."""
        ...

    def scope(self, article_ids: Sequence[str]) -> Scope:
        """What searching only these articles takes (a filter's result), in this backend's form."""
        ...

    def dense_sentences(self, vector: np.ndarray, n: int, scope: Scope | None = None) -> np.ndarray:
        """The rows of the n sentences closest to a unit vector, best first; only of the scope when given."""
        ...

    def bm25_top(
        self, terms: Sequence[str], collection: str, n: int, scope: Scope | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The n best rows of `chunks` or `sentences` by BM25 (of the scope when given) and their scores, best
        first; rows without any of the terms are left out."""
        ...

    def bm25_of(self, terms: Sequence[str], collection: str, rows: Sequence[int]) -> np.ndarray:
        """BM25 scores of the given rows of `chunks` or `sentences`; 0 for a row without any of the terms."""
        ...

    def chunks_containing(self, sentence_rows: np.ndarray) -> np.ndarray:
        """The rows of the chunks that hold the given sentences (chunks overlap: up to two per sentence)."""
        ...

    def chunk_ranges(self, chunk_rows: Sequence[int]) -> np.ndarray:
        """(first, last) sentence row of each given chunk; an article's sentence rows are consecutive."""
        ...

    def chunk_articles(self, chunk_rows: Sequence[int]) -> list[str]:
        """The article id of each given chunk."""
        ...

    def sentence_matrix(self, rows: Sequence[int]) -> np.ndarray:
        """The unit vectors of the given sentence rows."""
        ...

    def copy_groups(self) -> dict[str, str]:
        """Articles that are copies of one story (qa.ingest.duplicates): article id → its group's id; others absent."""
        ...

    def copies(self, article_id: str) -> list[ArticleRow]:
        """The other copies of an article's story, by id; empty when it has none."""
        ...

    def idf(self, terms: Sequence[str], collection: str) -> dict[str, float]:
        """BM25's inverse document frequency of each term in a collection."""
        ...

    def chunks(self, rows: Sequence[int]) -> list[ChunkRow]: ...

    def sentences(self, rows: Sequence[int]) -> list[SentenceRow]: ...

    def article(self, article_id: str) -> ArticleRow: ...

    def articles(self) -> list[ArticleRow]:
        """Every indexed article's metadata, by id."""
        ...

    def article_text(self, article_id: str) -> str: ...

    def article_sentences(self, article_id: str) -> list[SentenceRow]: ...

    def describe(self) -> dict:
        """What `citeqa info` shows: model, dimension, parameters, when built, where, how big."""
        ...

    def require_corpus(self, corpus: Path) -> None:
        """Raise IndexUnusableError unless this index holds `corpus`."""
        ...

    def close(self) -> None: ...


class StoredIndexReader:
    """What every backend's reader does alike, written once: its identity from what the index recorded when it
    was built (`built`: model, dim, params, created), copies of one story, and the part of `describe` common to
    all. A backend sets `built` and implements the rest of `IndexReader`."""

    built: dict

    @property
    def model_id(self) -> str:
        return self.built["model"]

    @property
    def params(self) -> IndexParams:
        return IndexParams(**self.built["params"])

    def copies(self, article_id: str) -> list[ArticleRow]:
        from qa.ingest.duplicates import other_copies

        return [self.article(other) for other in other_copies(self.copy_groups(), article_id)]

    def built_description(self) -> dict:
        """The keys of `describe` every backend shares."""
        return {
            "model": self.model_id,
            "precision": self.params.precision,
            "dim": self.built["dim"],
            "params": self.built["params"],
            "created": self.built["created"],
            "copies": len(self.copy_groups()),
        }


class IndexStore(Protocol):
    """Where an index is kept: opened for reading, brought in line with a corpus, checked."""

    @property
    def location(self) -> str: ...

    def exists(self) -> bool: ...

    def built_with(self) -> IndexParams | None:
        """The params (model, precision…) the stored index was built with; None before the first write."""
        ...

    def is_stale(self, corpus: Path) -> bool: ...

    def open(self, model_id: str | None = None, previous: IndexReader | None = None) -> IndexReader:
        """The live index; `previous`, a reader of an earlier generation of this store still open, whose unchanged
        parts a backend may share with the new one rather than read them again."""
        ...

    def update(
        self, corpus: Path, params: IndexParams, embedder, progress: Progress, rebuild: bool = False
    ) -> UpdateReport: ...

    def check(self) -> dict[str, int]: ...

    def close(self) -> None:
        """Let go of any connection the store holds."""
        ...
