"""The SQLite metadata store: articles, sentences and chunks, rows aligned with the vector matrices.

One plain SQLite file per index generation, so a user can open it with `sqlite3` and read what was indexed.
`chunks.row` is the chunk's row in the FAISS index; `sentences.row` its row in the sentence vectors.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE articles (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, date TEXT, path TEXT NOT NULL,
    sha256 TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, text TEXT NOT NULL
);
CREATE TABLE sentences (
    row INTEGER PRIMARY KEY, article_id TEXT NOT NULL REFERENCES articles(id),
    position INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL, text TEXT NOT NULL
);
CREATE TABLE chunks (
    row INTEGER PRIMARY KEY, article_id TEXT NOT NULL REFERENCES articles(id), position INTEGER NOT NULL,
    first_sentence_row INTEGER NOT NULL, last_sentence_row INTEGER NOT NULL, text TEXT NOT NULL
);
CREATE INDEX sentences_by_article ON sentences(article_id, position);
CREATE INDEX chunks_by_article ON chunks(article_id, position);
"""


@dataclass(frozen=True)
class ArticleRow:
    id: str
    title: str
    date: str | None
    path: str
    sha256: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class SentenceRow:
    row: int
    article_id: str
    position: int
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class ChunkRow:
    row: int
    article_id: str
    position: int
    first_sentence_row: int
    last_sentence_row: int
    text: str


class MetadataStore:
    """Read access to one generation's metadata; writes happen only while a generation is being built."""

    def __init__(self, path: Path, create: bool = False) -> None:
        uri = f"file:{path}" + ("" if create else "?mode=ro")
        self.db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        if create:
            self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def add_article(self, article: tuple, sentences: list[tuple], chunks: list[tuple]) -> None:
        """Insert one article with its sentence and chunk rows (tuples in column order) while building."""
        self.db.execute("INSERT INTO articles VALUES (?, ?, ?, ?, ?, ?, ?, ?)", article)
        self.db.executemany(
            'INSERT INTO sentences (row, article_id, position, start, "end", text) VALUES (?, ?, ?, ?, ?, ?)', sentences
        )
        self.db.executemany("INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?)", chunks)

    def counts(self) -> dict[str, int]:
        return {
            table: self.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("articles", "chunks", "sentences")
        }

    def articles(self) -> list[ArticleRow]:
        rows = self.db.execute("SELECT id, title, date, path, sha256, size, mtime_ns FROM articles ORDER BY id")
        return [ArticleRow(*r) for r in rows]

    def article(self, article_id: str) -> ArticleRow:
        row = self.db.execute(
            "SELECT id, title, date, path, sha256, size, mtime_ns FROM articles WHERE id = ?", (article_id,)
        ).fetchone()
        return ArticleRow(*row)

    def article_text(self, article_id: str) -> str:
        return self.db.execute("SELECT text FROM articles WHERE id = ?", (article_id,)).fetchone()[0]

    def chunks(self, rows: Sequence[int]) -> list[ChunkRow]:
        found = {
            r[0]: ChunkRow(*r)
            for r in self._select(
                "chunks", "row, article_id, position, first_sentence_row, last_sentence_row, text", rows
            )
        }
        return [found[r] for r in rows]

    def sentences(self, rows: Sequence[int]) -> list[SentenceRow]:
        found = {
            r[0]: SentenceRow(*r)
            for r in self._select("sentences", 'row, article_id, position, start, "end", text', rows)
        }
        return [found[r] for r in rows]

    def article_sentences(self, article_id: str) -> list[SentenceRow]:
        rows = self.db.execute(
            'SELECT row, article_id, position, start, "end", text FROM sentences WHERE article_id = ? '
            "ORDER BY position",
            (article_id,),
        )
        return [SentenceRow(*r) for r in rows]

    def article_chunks(self, article_id: str) -> list[ChunkRow]:
        rows = self.db.execute(
            "SELECT row, article_id, position, first_sentence_row, last_sentence_row, text FROM chunks "
            "WHERE article_id = ? ORDER BY position",
            (article_id,),
        )
        return [ChunkRow(*r) for r in rows]

    def _select(self, table: str, columns: str, rows: Iterable[int]):
        rows = list(dict.fromkeys(int(r) for r in rows))
        if not rows:
            return []
        marks = ",".join("?" * len(rows))
        return self.db.execute(f"SELECT {columns} FROM {table} WHERE row IN ({marks})", rows)
