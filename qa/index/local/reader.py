"""A generation of the on-disk index opened for answering (an `IndexReader`): its segments' vectors, BM25 term
counts and SQLite rows, and the catalog of live articles, checked as they are opened."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np

from qa.errors import REBUILD_HINT, IndexUnusableError, first_line
from qa.index.local.bm25 import Bm25, top_rows
from qa.index.local.generations import read_manifest, verify_files
from qa.index.local.segments import (
    Segment,
    SegmentInfo,
)
from qa.index.local.sqlite import Catalog, article_row
from qa.index.local.vectors import SentenceVectors
from qa.index.seam import (
    BM25_COLLECTIONS,
    ArticleRow,
    ChunkRow,
    Scope,
    SentenceRow,
    StoredIndexReader,
)
from qa.ingest.corpus import (
    Skipped,
    stored_path,
)
from qa.text.lexical import lucene_idf

CATALOG = "catalog.sqlite"
# Checked by SHA-256 on every open: damage there would not fail loudly but index out of bounds mid-question.
# The rest is checked by size on open, in full by `index --check`.
HASHED_ON_OPEN = ("/terms-",)


class LoadedIndex(StoredIndexReader):
    """One generation opened for reading (an `IndexReader`): its segments (qa.index.local.segments) seen as one index.
    Global rows are the segments' rows one after the other; rows of articles the catalog does not list as
    live in that segment (changed or removed since) are tombstones, which no search returns."""

    def __init__(self, directory: Path, whole: bool = True, previous: LoadedIndex | None = None) -> None:
        """`whole` loads the vectors and both BM25 collections now, as a reader needs: once open it needs
        nothing more from the disk, so a writer may replace and remove this generation under it (SQLite keeps
        its open files). A writer, which holds the lock, opens the catalog and the segments' article lists and
        loads the rest only if its update needs it. `previous`: an earlier generation of the same index, open
        in this process; the segments the two share are not read again (an update adds one segment, so a server
        switching to its generation loads that one: qa.index.local.segments.Segment)."""
        self.directory = directory
        self.manifest = self.built = read_manifest(directory)
        verify_files(directory, self.manifest, HASHED_ON_OPEN if whole else ())
        self.segments: list[Segment] = []
        try:
            self.catalog = Catalog(directory / CATALOG)
            self.files = self.catalog.files()
            dim = int(self.manifest["dim"])
            kept = {s.info.name: s for s in previous.segments} if previous is not None else {}
            for entry in self.manifest["segments"]:
                info = SegmentInfo(**entry)
                self.segments.append(Segment(directory / info.name, info, dim, kept.get(info.name)))
            self._find_live_rows()
        except IndexUnusableError:
            self.close()
            raise
        except (RuntimeError, ValueError, OSError, KeyError, TypeError) as exc:
            self.close()
            raise self._damaged(exc) from exc
        self._vectors: SentenceVectors | None = None
        self._bm25: dict[str, Bm25] = {}
        if whole:
            self.vectors  # noqa: B018 - loaded now, see above
            for name in BM25_COLLECTIONS:
                self._bm25_of(name)
        self._chunk_spans: np.ndarray | None = None
        self._article_ids: dict[str, np.ndarray] = {}  # read on the first filtered question
        self._copy_groups: dict[str, str] | None = None
        self._last_scores: dict[str, tuple[tuple[str, ...], np.ndarray]] = {}  # by collection

    def _find_live_rows(self) -> None:
        """Where each live article's rows are, and which global rows are live."""
        infos = [s.info for s in self.segments]
        self.offsets = {
            "sentences": np.cumsum([0] + [i.sentences for i in infos])[:-1].astype(np.int64),
            "chunks": np.cumsum([0] + [i.chunks for i in infos])[:-1].astype(np.int64),
        }
        self.live = {
            "sentences": np.zeros(sum(i.sentences for i in infos), dtype=bool),
            "chunks": np.zeros(sum(i.chunks for i in infos), dtype=bool),
        }
        self.where: dict[str, tuple[int, int, int]] = {}  # article id -> (segment, first sentence, first chunk)
        self.live_ids: list[set[str]] = [set() for _ in self.segments]  # by segment
        for position, segment in enumerate(self.segments):
            sentence_offset, chunk_offset = self.offsets["sentences"][position], self.offsets["chunks"][position]
            for article_id, (first, sentences, first_chunk, chunks) in segment.ranges.items():
                entry = self.files.get(article_id)
                if entry is None or entry.segment != segment.info.name:
                    continue
                self.live["sentences"][sentence_offset + first : sentence_offset + first + sentences] = True
                self.live["chunks"][chunk_offset + first_chunk : chunk_offset + first_chunk + chunks] = True
                self.where[article_id] = (position, sentence_offset + first, chunk_offset + first_chunk)
                self.live_ids[position].add(article_id)
        if len(self.where) != len(self.files):
            raise IndexUnusableError(f"index at {self.directory.parent} is inconsistent (catalog); {REBUILD_HINT}")
        self.counts = {
            "articles": len(self.files),
            "chunks": int(self.live["chunks"].sum()),
            "sentences": int(self.live["sentences"].sum()),
        }

    def _damaged(self, exc: Exception) -> IndexUnusableError:
        return IndexUnusableError(f"index at {self.directory.parent} is damaged ({first_line(exc)}); {REBUILD_HINT}")

    @property
    def vectors(self) -> SentenceVectors:
        if self._vectors is None:
            try:
                self._vectors = SentenceVectors(
                    [s.vectors for s in self.segments],
                    self.offsets["sentences"],
                    self.live["sentences"],
                    int(self.manifest["dim"]),
                )
            except (RuntimeError, ValueError, OSError) as exc:
                raise self._damaged(exc) from exc
        return self._vectors

    @property
    def corpus(self) -> str:
        return self.manifest["corpus"]

    def require_corpus(self, corpus: Path) -> None:
        """One index, one corpus: an index directory shared by mistake is refused, never silently replaced."""
        if self.corpus != stored_path(corpus):
            raise IndexUnusableError(
                f"the index at {self.directory.parent} holds the corpus {self.corpus}, not {stored_path(corpus)}; "
                "use another --index (or unset CITEQA_INDEX), or `citeqa index --rebuild` to replace it"
            )

    @property
    def skipped(self) -> list[Skipped]:
        return [Skipped(**item) for item in self.manifest.get("skipped", [])]

    def sentence_matrix(self, rows) -> np.ndarray:
        """The unit vectors of the given sentence rows."""
        return self.vectors.matrix(rows)

    def scope(self, article_ids: Sequence[str]) -> Scope:
        """Row masks: the chunks of the allowed articles (for BM25) and their sentence rows (for vectors)."""
        chunks = np.isin(self.article_ids("chunks"), list(article_ids))
        sentences = np.flatnonzero(np.isin(self.article_ids("sentences"), list(article_ids)))
        return Scope(frozenset(article_ids), int(chunks.sum()), (chunks, sentences))

    def dense_sentences(self, vector: np.ndarray, n: int, scope: Scope | None = None) -> np.ndarray:
        """Inner-product search over the live sentence vectors (exact, or the HNSW graph of a large index: see
        qa.index.local.vectors), restricted to the scope's sentences when given, so that a filtered question still
        gets n."""
        return self.vectors.nearest(vector, n, None if scope is None else scope.payload[1])

    def bm25_top(
        self, terms: Sequence[str], collection: str, n: int, scope: Scope | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        scores = self._bm25_scores(terms, collection)
        if scope is not None:
            chunks, sentences = scope.payload
            allowed = chunks if collection == "chunks" else np.isin(np.arange(len(scores)), sentences)
            scores = np.where(allowed, scores, 0.0)
        rows = top_rows(scores, n)
        rows = rows[scores[rows] > 0]
        return rows, scores[rows]

    def bm25_of(self, terms: Sequence[str], collection: str, rows: Sequence[int]) -> np.ndarray:
        return self._bm25_scores(terms, collection)[np.asarray(rows, dtype=np.int64)]

    def _bm25_scores(self, terms: Sequence[str], collection: str) -> np.ndarray:
        """BM25 of every row, remembered for the last terms asked (retrieval and the answer step ask twice)."""
        asked, scores = self._last_scores.get(collection, ((), None))
        if scores is None or asked != tuple(terms):
            scores = self._bm25_of(collection).scores(terms)
            self._last_scores[collection] = (tuple(terms), scores)
        return scores

    @property
    def chunk_spans(self) -> np.ndarray:
        """(first, last) global sentence row of every chunk row, tombstones included."""
        if self._chunk_spans is None:
            spans = [
                s.store.chunk_spans() + offset
                for s, offset in zip(self.segments, self.offsets["sentences"], strict=True)
            ]
            self._chunk_spans = np.concatenate(spans) if spans else np.zeros((0, 2), dtype=np.int64)
        return self._chunk_spans

    def chunks_containing(self, sentence_rows: np.ndarray) -> np.ndarray:
        first, last = self.chunk_spans[:, 0], self.chunk_spans[:, 1]
        at = np.searchsorted(first, sentence_rows, side="right") - 1
        found = [at[(at >= 0) & (last[np.clip(at, 0, None)] >= sentence_rows)]]
        before = at - 1
        found.append(before[(before >= 0) & (last[np.clip(before, 0, None)] >= sentence_rows)])
        return np.concatenate(found)

    def chunk_ranges(self, chunk_rows: Sequence[int]) -> np.ndarray:
        return self.chunk_spans[np.asarray(chunk_rows, dtype=np.int64)]

    def chunk_articles(self, chunk_rows: Sequence[int]) -> list[str]:
        return list(self.article_ids("chunks")[np.asarray(chunk_rows, dtype=np.int64)])

    def article_ids(self, collection: str) -> np.ndarray:
        """The article id of every live row of `chunks` or `sentences` ("" for a tombstone), built on first use."""
        if collection not in self._article_ids:
            ids = np.full(len(self.live[collection]), "", dtype=object)
            for article_id, (position, first_sentence, first_chunk) in self.where.items():
                rows = self.segments[position].ranges[article_id]
                first, count = (
                    (first_sentence, rows.sentences) if collection == "sentences" else (first_chunk, rows.chunks)
                )
                ids[first : first + count] = article_id
            self._article_ids[collection] = ids
        return self._article_ids[collection]

    def copy_groups(self) -> dict[str, str]:
        if self._copy_groups is None:
            self._copy_groups = self.catalog.copy_groups()
        return self._copy_groups

    def idf(self, terms: Sequence[str], collection: str) -> dict[str, float]:
        """From the document frequencies of the live rows."""
        bm25 = self._bm25_of(collection)
        return {term: lucene_idf(bm25.document_frequency(term), bm25.num_docs) for term in terms}

    def _rows(self, collection: str, rows: Sequence[int]) -> list:
        """Chunk or sentence rows read from their segments, with global row numbers."""
        rows = np.asarray(rows, dtype=np.int64)
        at = np.searchsorted(self.offsets[collection], rows, side="right") - 1
        found: dict[int, SentenceRow | ChunkRow] = {}
        for position in set(at.tolist()):  # not np.unique: it imports numpy.ma, 28 ms of a one-shot `ask`
            offset = int(self.offsets[collection][position])
            store = self.segments[position].store
            local = (rows[at == position] - offset).tolist()
            if collection == "sentences":
                found.update(store.sentences(local, offset))
            else:
                found.update(store.chunks(local, offset, int(self.offsets["sentences"][position])))
        return [found[r] for r in rows.tolist()]

    def chunks(self, rows: Sequence[int]) -> list[ChunkRow]:
        return self._rows("chunks", rows)

    def sentences(self, rows: Sequence[int]) -> list[SentenceRow]:
        return self._rows("sentences", rows)

    def _segment_of(self, article_id: str) -> Segment:
        if article_id not in self.where:
            raise IndexUnusableError(f"no article '{article_id}' in the index at {self.directory.parent}")
        return self.segments[self.where[article_id][0]]

    def article(self, article_id: str) -> ArticleRow:
        fields = self._segment_of(article_id).store.article_fields([article_id])[article_id]
        return article_row(article_id, fields, self.files[article_id].file)

    def article_text(self, article_id: str) -> str:
        return self._segment_of(article_id).store.article_text(article_id)

    def articles(self) -> list[ArticleRow]:
        found = []
        for segment, live in zip(self.segments, self.live_ids, strict=True):
            found += [article_row(a, f, self.files[a].file) for a, f in segment.store.article_fields(live).items()]
        return sorted(found, key=lambda row: row.id)

    def article_sentences(self, article_id: str) -> list[SentenceRow]:
        if article_id not in self.where:
            return []
        position, first, _ = self.where[article_id]
        return self.sentences(range(first, first + self.segments[position].ranges[article_id].sentences))

    def describe(self) -> dict:
        return {
            "generation": self.directory.name,
            "segments": len(self.segments),
            "vectors": asdict(self.vectors.layout),
            **self.built_description(),
            "size_bytes": self.size_bytes(),
        }

    def _bm25_of(self, collection: str) -> Bm25:
        if collection not in self._bm25:
            try:
                self._bm25[collection] = Bm25(
                    [s.terms(collection) for s in self.segments], self.offsets[collection], self.live[collection]
                )
            except (OSError, ValueError, KeyError) as exc:
                raise IndexUnusableError(
                    f"BM25 data of the index at {self.directory.parent} is damaged ({first_line(exc)}); {REBUILD_HINT}"
                ) from exc
        return self._bm25[collection]

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.directory.rglob("*") if p.is_file())

    def check(self) -> None:
        """Every file against its checksum, and SQLite's integrity check of every database."""
        verify_files(self.directory, self.manifest)
        self.catalog.integrity_check()
        for segment in self.segments:
            segment.store.integrity_check()

    def close(self) -> None:
        if hasattr(self, "catalog"):
            self.catalog.close()
        for segment in self.segments:
            segment.close()
