"""The SQLite metadata store: articles, sentences and chunks, rows aligned with the vector matrices.

One plain SQLite file per index generation, so a user can open it with `sqlite3` and read what was indexed.
`chunks.row` is the chunk's row in the FAISS index; `sentences.row` its row in the sentence vectors.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from qa.duplicates import Fingerprint
from qa.errors import REBUILD_HINT, IndexUnusableError, first_line
from qa.storage import ArticleRow, ChunkRow, SentenceRow

SCHEMA = """
CREATE TABLE articles (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, date TEXT, path TEXT NOT NULL,
    sha256 TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, text TEXT NOT NULL,
    author TEXT, source TEXT, url TEXT,
    pages TEXT,  -- JSON list of the offsets where the pages of a PDF start; NULL for other formats
    -- MinHash of the text and its count of word 5-grams (qa.duplicates), kept so that updates need not redo it
    fingerprint BLOB NOT NULL, shingles INTEGER NOT NULL
);
CREATE TABLE copies (  -- articles that are copies of one story; group_id is the group's first article id
    article_id TEXT PRIMARY KEY REFERENCES articles(id), group_id TEXT NOT NULL
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


_ARTICLE_COLUMNS = "id, title, date, path, sha256, size, mtime_ns, author, source, url, pages"


def _article_row(row: tuple) -> ArticleRow:
    *head, pages = row
    return ArticleRow(*head, pages=tuple(json.loads(pages)) if pages else ())


class MetadataStore:
    """Read access to one generation's metadata; writes happen only while a generation is being built.
    A damaged file (SQLite reports it when a bad page is read) is an IndexUnusableError, never a traceback."""

    def __init__(self, path: Path, create: bool = False) -> None:
        self.path = path
        uri = f"file:{path}" + ("" if create else "?mode=ro")
        try:
            self.db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        except sqlite3.DatabaseError as exc:  # gone (a writer removed its generation) or not a database
            if create:
                raise
            raise IndexUnusableError(
                f"index metadata {path} cannot be opened ({first_line(exc)}); {REBUILD_HINT}"
            ) from exc
        if create:
            self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def _query(self, sql: str, parameters: Sequence = ()) -> list[tuple]:
        try:
            return self.db.execute(sql, parameters).fetchall()
        except sqlite3.DatabaseError as exc:
            raise IndexUnusableError(
                f"index metadata {self.path} is damaged ({first_line(exc)}); {REBUILD_HINT}"
            ) from exc

    def copy_with_file_facts(self, target: Path, facts: list[tuple[str, int, int, str]]) -> None:
        """Copy this database to `target` (SQLite's backup API: a consistent copy while others read it) with the
        (path, size, mtime_ns) of the articles named last in `facts` replaced."""
        copy = sqlite3.connect(target)
        try:
            self.db.backup(copy)
            with copy:
                copy.executemany("UPDATE articles SET path = ?, size = ?, mtime_ns = ? WHERE id = ?", facts)
        finally:
            copy.close()

    def integrity_check(self) -> None:
        """SQLite's own full check of every page and index (reads the whole file)."""
        problems = [row[0] for row in self._query("PRAGMA integrity_check")]
        if problems != ["ok"]:
            raise IndexUnusableError(f"index metadata {self.path} is damaged ({problems[0]}); {REBUILD_HINT}")

    def article_ids(self, table: str) -> np.ndarray:
        """The article id of every row of `chunks` or `sentences`, in row order."""
        if table not in ("chunks", "sentences"):
            raise ValueError(f"no table '{table}'")
        return np.array([r[0] for r in self._query(f"SELECT article_id FROM {table} ORDER BY row")], dtype=object)

    def chunk_spans(self) -> np.ndarray:
        """(first, last) sentence row of every chunk, by chunk row: how chunk scores come from sentences."""
        rows = self._query("SELECT first_sentence_row, last_sentence_row FROM chunks ORDER BY row")
        return np.array(rows, dtype=np.int64).reshape(-1, 2)

    def add_article(self, article: tuple, sentences: list[tuple], chunks: list[tuple]) -> None:
        """Insert one article with its sentence and chunk rows (tuples in column order) while building."""
        self.db.execute("INSERT INTO articles VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", article)
        self.db.executemany(
            'INSERT INTO sentences (row, article_id, position, start, "end", text) VALUES (?, ?, ?, ?, ?, ?)', sentences
        )
        self.db.executemany("INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?)", chunks)

    def fingerprints(self) -> dict[str, Fingerprint]:
        """Every article's MinHash fingerprint."""
        rows = self._query("SELECT id, fingerprint, shingles FROM articles")
        return {key: Fingerprint(np.frombuffer(values, dtype=np.uint64), shingles) for key, values, shingles in rows}

    def set_copies(self, groups: dict[str, str]) -> None:
        """Record the groups of copies (article id → group id) while building."""
        self.db.executemany("INSERT INTO copies VALUES (?, ?)", sorted(groups.items()))

    def copy_groups(self) -> dict[str, str]:
        return dict(self._query("SELECT article_id, group_id FROM copies"))

    def counts(self) -> dict[str, int]:
        return {
            table: self._query(f"SELECT count(*) FROM {table}")[0][0] for table in ("articles", "chunks", "sentences")
        }

    def articles(self) -> list[ArticleRow]:
        rows = self._query(f"SELECT {_ARTICLE_COLUMNS} FROM articles ORDER BY id")
        return [_article_row(r) for r in rows]

    def article(self, article_id: str) -> ArticleRow:
        (row,) = self._query(f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE id = ?", (article_id,))
        return _article_row(row)

    def article_text(self, article_id: str) -> str:
        return self._query("SELECT text FROM articles WHERE id = ?", (article_id,))[0][0]

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
        rows = self._query(
            'SELECT row, article_id, position, start, "end", text FROM sentences WHERE article_id = ? '
            "ORDER BY position",
            (article_id,),
        )
        return [SentenceRow(*r) for r in rows]

    def article_chunks(self, article_id: str) -> list[ChunkRow]:
        rows = self._query(
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
        return self._query(f"SELECT {columns} FROM {table} WHERE row IN ({marks})", rows)
