"""The SQLite metadata of an index: one file per segment (articles, sentences, chunks) and one catalog per
generation (which articles are live, in which segment, with their file facts; the groups of copies).

Plain SQLite files, so a user can open them with `sqlite3` and read what was indexed. In a segment,
`sentences.row` is the sentence's row in the segment's vectors and term counts, `chunks.row` the chunk's row in
its term counts.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from qa.errors import REBUILD_HINT, IndexUnusableError, first_line
from qa.index.seam import ArticleRow, ChunkRow, IndexedFile, SentenceRow
from qa.ingest.duplicates import Fingerprint

SCHEMA = """
CREATE TABLE articles (
    id TEXT PRIMARY KEY,
    -- the article's rows in this segment: sentences first_sentence.., chunks first_chunk.. (consecutive)
    first_sentence INTEGER NOT NULL, sentences INTEGER NOT NULL, first_chunk INTEGER NOT NULL, chunks INTEGER NOT NULL,
    title TEXT NOT NULL, date TEXT, sha256 TEXT NOT NULL, author TEXT, source TEXT, url TEXT,
    pages TEXT,  -- JSON list of the offsets where the pages of a PDF start; NULL for other formats
    -- MinHash of the text and its count of word 5-grams (qa.ingest.duplicates), kept so that updates need not redo it
    shingles INTEGER NOT NULL, fingerprint BLOB NOT NULL,
    text TEXT NOT NULL  -- last: reading the columns before it does not read its pages
);
CREATE TABLE sentences (
    row INTEGER PRIMARY KEY, article_id TEXT NOT NULL REFERENCES articles(id),
    position INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL, text TEXT NOT NULL,
    -- found when indexed, so that the answer step does not find them again for every question: the folded terms
    -- (qa.text.lexical.term_set, space-separated) and the typed expressions (qa.text.mentions.encode_mentions)
    terms TEXT NOT NULL, mentions TEXT NOT NULL
);
CREATE TABLE chunks (
    row INTEGER PRIMARY KEY, article_id TEXT NOT NULL REFERENCES articles(id), position INTEGER NOT NULL,
    first_sentence_row INTEGER NOT NULL, last_sentence_row INTEGER NOT NULL, text TEXT NOT NULL
);
-- Covering indexes for what opening reads of every row: without them SQLite reads every page of the tables,
-- text included (1.8 s at a million sentences)
CREATE INDEX article_ranges ON articles(first_sentence, id, sentences, first_chunk, chunks);
CREATE INDEX chunk_spans ON chunks(first_sentence_row, last_sentence_row);
"""
# A generation's catalog: which article lives in which segment, with the facts of its file now (a touched
# file changes this small table, never a segment), and the groups of copies across all segments.
CATALOG_SCHEMA = """
CREATE TABLE files (
    article_id TEXT PRIMARY KEY, segment TEXT NOT NULL,
    path TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, sha256 TEXT NOT NULL
);
CREATE TABLE copies (  -- articles that are copies of one story; group_id is the group's first article id
    article_id TEXT PRIMARY KEY REFERENCES files(article_id), group_id TEXT NOT NULL
);
"""
ARTICLE_FIELDS = "title, date, author, source, url, pages"


class _Sqlite:
    """One SQLite file opened read-only (or created, while a generation is written). A damaged file (SQLite
    reports it when a bad page is read) is an IndexUnusableError, never a traceback."""

    schema = ""

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
            self.db.executescript(self.schema)

    def close(self) -> None:
        self.db.close()

    def _query(self, sql: str, parameters: Sequence = ()) -> list[tuple]:
        try:
            return self.db.execute(sql, parameters).fetchall()
        except sqlite3.DatabaseError as exc:
            raise IndexUnusableError(
                f"index metadata {self.path} is damaged ({first_line(exc)}); {REBUILD_HINT}"
            ) from exc

    def integrity_check(self) -> None:
        """SQLite's own full check of every page and index (reads the whole file)."""
        problems = [row[0] for row in self._query("PRAGMA integrity_check")]
        if problems != ["ok"]:
            raise IndexUnusableError(f"index metadata {self.path} is damaged ({problems[0]}); {REBUILD_HINT}")


class ArticleRange(NamedTuple):
    """An article's rows in its segment: its sentences and its chunks are consecutive."""

    first_sentence: int
    sentences: int
    first_chunk: int
    chunks: int


@dataclass(frozen=True)
class CatalogEntry:
    """Where a live article is: the segment that holds it, and its file as indexed."""

    segment: str
    file: IndexedFile


class Catalog(_Sqlite):
    """The generation's catalog (see CATALOG_SCHEMA)."""

    schema = CATALOG_SCHEMA

    def files(self) -> dict[str, CatalogEntry]:
        """Every live article's segment and file, by id."""
        rows = self._query("SELECT article_id, segment, path, size, mtime_ns, sha256 FROM files")
        return {row[0]: CatalogEntry(row[1], IndexedFile(*row[2:])) for row in rows}

    def write(self, files: dict[str, CatalogEntry], groups: dict[str, str]) -> None:
        with self.db:
            self.db.executemany(
                "INSERT INTO files VALUES (?, ?, ?, ?, ?, ?)",
                sorted(
                    (k, e.segment, e.file.path, e.file.size, e.file.mtime_ns, e.file.sha256) for k, e in files.items()
                ),
            )
            self.db.executemany("INSERT INTO copies VALUES (?, ?)", sorted(groups.items()))

    def copy_groups(self) -> dict[str, str]:
        return dict(self._query("SELECT article_id, group_id FROM copies"))


class MetadataStore(_Sqlite):
    """One segment's metadata (see SCHEMA): rows are the segment's own, from 0; the reader adds the segment's
    offset. Written once, when the segment is built, then only read."""

    schema = SCHEMA

    def add_article(self, article: tuple, sentences: list[tuple], chunks: list[tuple]) -> None:
        """Insert one article (columns in SCHEMA order) with its sentence and chunk rows while building."""
        self.db.execute("INSERT INTO articles VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", article)
        self.db.executemany("INSERT INTO sentences VALUES (?, ?, ?, ?, ?, ?, ?, ?)", sentences)
        self.db.executemany("INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?)", chunks)

    def copy_article(self, other: MetadataStore, article_id: str, sentence_base: int, chunk_base: int) -> None:
        """Copy an article with its rows from another segment's store (a merge), its rows starting at the
        given bases."""
        (row,) = other._query("SELECT * FROM articles WHERE id = ?", (article_id,))
        old_sentence, old_chunk = row[1], row[3]
        shift = sentence_base - old_sentence
        self.db.execute(
            "INSERT INTO articles VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (row[0], sentence_base, row[2], chunk_base, *row[4:]),
        )
        self.db.executemany(
            "INSERT INTO sentences VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (r + shift, *rest)
                for r, *rest in other._query("SELECT * FROM sentences WHERE article_id = ?", (article_id,))
            ],
        )
        self.db.executemany(
            "INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?)",
            [
                (r - old_chunk + chunk_base, a, position, first + shift, last + shift, text)
                for r, a, position, first, last, text in other._query(
                    "SELECT * FROM chunks WHERE article_id = ?", (article_id,)
                )
            ],
        )

    def article_ranges(self) -> dict[str, ArticleRange]:
        """Every article's rows, by id, in row order."""
        rows = self._query(
            "SELECT id, first_sentence, sentences, first_chunk, chunks FROM articles ORDER BY first_sentence"
        )
        return {row[0]: ArticleRange(*row[1:]) for row in rows}

    def chunk_spans(self) -> np.ndarray:
        """(first, last) sentence row of every chunk, by chunk row: how chunk scores come from sentences."""
        rows = np.array(
            self._query("SELECT row, first_sentence_row, last_sentence_row FROM chunks ORDER BY first_sentence_row"),
            dtype=np.int64,
        ).reshape(-1, 3)
        return rows[np.argsort(rows[:, 0], kind="stable"), 1:]

    def fingerprints(self, article_ids: Iterable[str]) -> dict[str, Fingerprint]:
        """The MinHash fingerprints of the given articles."""
        wanted = set(article_ids)
        rows = self._query("SELECT id, fingerprint, shingles FROM articles")
        return {
            key: Fingerprint(np.frombuffer(values, dtype=np.uint64), shingles)
            for key, values, shingles in rows
            if key in wanted
        }

    def article_fields(self, article_ids: Iterable[str]) -> dict[str, tuple]:
        """article id → (title, date, author, source, url, pages) of the given articles."""
        wanted = set(article_ids)
        if len(wanted) < 100:  # the answer step asks for a few articles at a time
            marks = ",".join("?" * len(wanted))
            rows = self._query(f"SELECT id, {ARTICLE_FIELDS} FROM articles WHERE id IN ({marks})", sorted(wanted))
        else:
            rows = [row for row in self._query(f"SELECT id, {ARTICLE_FIELDS} FROM articles") if row[0] in wanted]
        return {row[0]: row[1:] for row in rows}

    def article_text(self, article_id: str) -> str:
        return self._query("SELECT text FROM articles WHERE id = ?", (article_id,))[0][0]

    def chunks(self, rows: Sequence[int], offset: int, sentence_offset: int) -> dict[int, ChunkRow]:
        """The given local chunk rows, by row, numbered from `offset` (their sentence rows from
        `sentence_offset`): rows of the whole generation."""
        columns = f"row + {offset:d}, article_id, position, first_sentence_row + {sentence_offset:d}, "
        found = self._select("chunks", columns + f"last_sentence_row + {sentence_offset:d}, text", rows)
        return {r[0]: ChunkRow(*r) for r in found}

    def sentences(self, rows: Sequence[int], offset: int) -> dict[int, SentenceRow]:
        """The given local sentence rows, by row, numbered from `offset`: rows of the whole generation."""
        columns = f'row + {offset:d}, article_id, position, start, "end", text, terms, mentions'
        found = self._select("sentences", columns, rows)
        return {r[0]: SentenceRow(*r) for r in found}

    def _select(self, table: str, columns: str, rows: Iterable[int]):
        rows = list(dict.fromkeys(int(r) for r in rows))
        if not rows:
            return []
        marks = ",".join("?" * len(rows))
        return self._query(f"SELECT {columns} FROM {table} WHERE row IN ({marks})", rows)


def article_row(article_id: str, fields: tuple, file: IndexedFile) -> ArticleRow:
    """An ArticleRow from a segment's fields and the catalog's record of the article's file."""
    title, date, author, source, url, pages = fields
    return ArticleRow(
        article_id,
        title,
        date,
        file.path,
        file.sha256,
        file.size,
        file.mtime_ns,
        author,
        source,
        url,
        tuple(json.loads(pages)) if pages else (),
    )
