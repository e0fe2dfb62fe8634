"""The on-disk index: generations of segments (qa.index.local.segments), each segment with its SQLite metadata, sentence
vectors and BM25 term counts, and a catalog of the live articles.

Generations, the write lock and atomic publishing live in `qa.index.local.generations`; this module decides what goes
into a generation (an `UpdatePlan` against the corpus, built by a `GenerationBuilder`) and opens one for reading.

Only sentences are embedded: a chunk's dense score is the best score of its sentences. On the SQuAD dev half
that ranked passages as well as embedding the chunks too (hybrid MRR@10 0.895 against 0.897 on 1,000
questions, a one-off experiment) for half the indexing time, and the answer step needs sentence vectors anyway.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np

from qa.errors import REBUILD_HINT, CiteqaError, IndexFormatError, IndexUnusableError, first_line
from qa.index.local.bm25 import Bm25, top_rows
from qa.index.local.generations import MANIFEST, Generations, link_or_copy, read_manifest, verify_files
from qa.index.local.segments import (
    MergePolicy,
    Segment,
    SegmentInfo,
    merge_segments,
    new_segment_name,
    write_segment,
)
from qa.index.local.sqlite import Catalog, CatalogEntry, article_row
from qa.index.local.vectors import SentenceVectors, ann_wanted
from qa.index.seam import (
    BM25_COLLECTIONS,
    ArticleRow,
    ChunkRow,
    IndexParams,
    Progress,
    Scope,
    SentenceRow,
    StoredIndexReader,
    UpdateReport,
    no_progress,
)
from qa.index.update import (
    PreparedArticle,
    UpdatePlan,
    embed_sentences,
    indexed_file,
    plan_update,
    prepare,
    read_articles,
)
from qa.ingest.corpus import (
    Article,
    CorpusListing,
    Skipped,
    SourceFile,
    file_facts,
    list_corpus,
    shown_path,
    stored_path,
)
from qa.ingest.duplicates import copy_groups
from qa.text.lexical import lucene_idf

CATALOG = "catalog.sqlite"
# A reader that finds its generation replaced while opening it retries with the new CURRENT.
OPEN_ATTEMPTS = 10
# Checked by SHA-256 on every open: damage there would not fail loudly but index out of bounds mid-question.
# The rest is checked by size on open, in full by `index --check`.
HASHED_ON_OPEN = ("/terms-",)


class LoadedIndex(StoredIndexReader):
    """One generation opened for reading (an `IndexReader`): its segments (qa.index.local.segments) seen as one index.
    Global rows are the segments' rows one after the other; rows of articles the catalog does not list as
    live in that segment (changed or removed since) are tombstones, which no search returns."""

    def __init__(self, directory: Path, whole: bool = True) -> None:
        """`whole` loads the vectors and both BM25 collections now, as a reader needs: once open it needs
        nothing more from the disk, so a writer may replace and remove this generation under it (SQLite keeps
        its open files). A writer, which holds the lock, opens the catalog and the segments' article lists and
        loads the rest only if its update needs it."""
        self.directory = directory
        self.manifest = self.built = read_manifest(directory)
        verify_files(directory, self.manifest, HASHED_ON_OPEN if whole else ())
        self.segments: list[Segment] = []
        try:
            self.catalog = Catalog(directory / CATALOG)
            self.files = self.catalog.files()
            dim = int(self.manifest["dim"])
            for entry in self.manifest["segments"]:
                info = SegmentInfo(**entry)
                self.segments.append(Segment(directory / info.name, info, dim))
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


class IndexDir:
    """An index directory (an `IndexStore`): opens the live generation, and plans and builds new ones under the
    write lock."""

    def __init__(self, root: Path, policy: MergePolicy | None = None, follow_links: bool = False) -> None:
        """`policy`: when updates merge segments (qa.index.local.segments.MergePolicy's defaults unless given);
        `follow_links`: read links that lead out of the corpus too (qa.ingest.corpus.list_corpus)."""
        self.follow_links = follow_links
        self.root = root
        self.generations = Generations(root)
        self.policy = policy or MergePolicy()

    @property
    def location(self) -> str:
        return str(self.root)

    def exists(self) -> bool:
        return self.generations.live() is not None

    def close(self) -> None:
        """Nothing to let go of: every reader and writer opens the files it needs."""
        return None

    def live_generation(self) -> Path | None:
        return self.generations.live()

    def built_with(self) -> IndexParams | None:
        """The params the live generation was built with, whatever its format; None before the first write."""
        generation = self.live_generation()
        try:
            return IndexParams(**json.loads((generation / MANIFEST).read_text())["params"])
        except (TypeError, OSError, ValueError, KeyError):
            return None

    def open(self, model_id: str | None = None, whole: bool = True) -> LoadedIndex:
        """The live generation; `model_id`, when given, must be the one the index was built with. `whole`:
        see LoadedIndex."""
        for _ in range(OPEN_ATTEMPTS):
            generation = self.live_generation()
            if generation is None:
                raise IndexUnusableError(f"no index at {self.root}; build one with `citeqa index CORPUS`")
            try:
                loaded = LoadedIndex(generation, whole)
                break
            except IndexUnusableError:
                if self.live_generation() == generation:
                    raise  # really damaged, not replaced by a writer while we were opening it
        else:
            raise IndexUnusableError(f"the index at {self.root} keeps changing under this reader; try again")
        if model_id is not None and loaded.model_id != model_id:
            loaded.close()
            raise IndexUnusableError(
                f"the index at {self.root} was built with model '{loaded.model_id}', not '{model_id}'; "
                f"rebuild it with `citeqa index --rebuild --model {model_id}` or use another --index"
            )
        return loaded

    def check(self) -> dict[str, int]:
        """Verify every file of the live generation against its checksum and SQLite's integrity check; the
        counts when all is well, IndexUnusableError naming the damage otherwise."""
        loaded = self.open()
        try:
            loaded.check()
            return dict(loaded.counts)
        finally:
            loaded.close()

    def is_stale(self, corpus: Path, listing: CorpusListing | None = None) -> bool:
        """True when files were added, removed or touched since the live generation (stat only, no reads; from
        `listing` when given)."""
        generation = self.live_generation()
        if generation is None:
            return True
        try:
            manifest = read_manifest(generation)
            catalog = Catalog(generation / CATALOG)
            try:
                known = {entry.file.stat for entry in catalog.files().values()}
            finally:
                catalog.close()
        except IndexUnusableError:
            return True
        known |= {(item["path"], item["size"], item["mtime_ns"]) for item in manifest.get("skipped", [])}
        seen = file_facts(corpus, listing, self.follow_links)
        return seen != known

    def update(
        self,
        corpus: Path,
        params: IndexParams,
        embedder,
        progress: Progress = no_progress,
        rebuild: bool = False,
    ) -> UpdateReport:
        """Bring the index in line with `corpus`, embedding only new or changed articles. Files skipped for the
        first time are reported as SkippedFile warnings; ones already reported are not repeated."""
        started = time.perf_counter()
        with self.generations.write_lock():
            listing = list_corpus(corpus, self.follow_links)
            report = None if rebuild else self._unchanged(corpus, params, listing)
            if report is None:
                report = self._update(corpus, params, embedder, progress, rebuild, listing)
        report.seconds = time.perf_counter() - started
        return report

    def _unchanged(self, corpus: Path, params: IndexParams, listing: CorpusListing) -> UpdateReport | None:
        """The report of an update with nothing to do, when the file facts (stat only, no reads) and the
        manifest say so; None when anything may have changed."""
        generation = self.live_generation()
        if generation is None:
            return None
        try:
            manifest = read_manifest(generation)
            built = IndexParams(**manifest["params"])
        except (IndexUnusableError, TypeError):
            return None
        if built != params or manifest["corpus"] != stored_path(corpus) or self.is_stale(corpus, listing):
            return None
        return UpdateReport(unchanged=manifest["counts"]["articles"], skipped=len(manifest.get("skipped", [])))

    def _update(
        self, corpus: Path, params: IndexParams, embedder, progress: Progress, rebuild: bool, listing: CorpusListing
    ) -> UpdateReport:
        previous = None if rebuild or not self.exists() else self._open_previous()
        try:
            plan = self._plan(corpus, params, previous, listing)
            if plan.needs_write and previous is not None and plan.report.up_to_date:
                self._write_file_facts(previous, plan)
            elif plan.needs_write:
                articles = read_articles(plan, progress)
                builder = GenerationBuilder(params, embedder, previous, progress, self.policy)
                with self.generations.staging() as temp:
                    manifest = builder.write(temp, plan, articles)
                    self.generations.publish(temp, manifest)
        finally:
            if previous:
                previous.close()
        return plan.report

    def _write_file_facts(self, previous: LoadedIndex, plan: UpdatePlan) -> None:
        """No article was added, changed or removed: files were only touched or moved, or the skipped ones
        changed. The new generation hard-links every segment and writes a new catalog with the new facts."""
        manifest = {key: value for key, value in previous.manifest.items() if key not in ("format", "files")}
        manifest["skipped"] = [asdict(s) for s in plan.scan.skipped]
        manifest["created"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        files = {a: CatalogEntry(previous.files[a].segment, indexed_file(s)) for a, s in plan.reused.items()}
        with self.generations.staging() as temp:
            manifest["linked"] = link_segments(previous, [s.info.name for s in previous.segments], temp)
            _write_catalog(temp, files, previous.copy_groups())
            self.generations.publish(temp, manifest)

    def _open_previous(self) -> LoadedIndex | None:
        """The generation to update; one written by another citeqa version is rebuilt, not refused (the index
        is derived data: the corpus is at hand)."""
        try:
            return self.open(whole=False)
        except IndexFormatError:
            return None

    def _plan(
        self, corpus: Path, params: IndexParams, previous: LoadedIndex | None, listing: CorpusListing
    ) -> UpdatePlan:
        if previous is not None:
            self._check_same_index(corpus, params, previous)
        indexed = {a: entry.file for a, entry in previous.files.items()} if previous else {}
        return plan_update(corpus, indexed, previous.skipped if previous else [], listing)

    def _check_same_index(self, corpus: Path, params: IndexParams, previous: LoadedIndex) -> None:
        """One index, one corpus and one set of params: anything else is refused, never silently replaced."""
        previous.require_corpus(corpus)
        if previous.params != params:
            old = previous.params
            what = "model" if old.model_id != params.model_id else "settings"
            raise IndexUnusableError(
                f"the index at {self.root} was built with other {what} ({_describe(old)}); "
                f"rebuild it with `citeqa index --rebuild` (add --model to choose the model)"
            )


class GenerationBuilder:
    """Writes one generation: a new segment of the new and changed articles (parsed and embedded), hard links
    to the previous generation's segments that still hold live articles, the merge the policy asks for, and
    the catalog."""

    def __init__(
        self,
        params: IndexParams,
        embedder,
        previous: LoadedIndex | None,
        progress: Progress,
        policy: MergePolicy,
    ) -> None:
        self.params = params
        self.embedder = embedder
        self.previous = previous
        self.progress = progress
        self.policy = policy
        self._opened: list[Segment] = []  # segments written by this update, closed when it ends

    def write(self, temp: Path, plan: UpdatePlan, articles: list[tuple[SourceFile, Article]]) -> dict:
        """Write the generation's segments and catalog into `temp`; the manifest's contents."""
        vectors = embed_sentences(articles, self.embedder, self.progress)
        plan.report.embedded = len(vectors)
        dim = int(self.previous.manifest["dim"]) if self.previous is not None else int(vectors.shape[1])
        sources = {s.id: s for s in plan.scan.sources}
        try:
            prepared = prepare(articles, vectors, self.params, self.embedder.count_tokens, self.progress)
            segments, live = self._segments(temp, plan, prepared, dim)
            counts = {  # a merge moves live rows, never drops them
                "articles": sum(len(ids) for ids in live),
                "chunks": sum(s.ranges[a].chunks for s, ids in zip(segments, live, strict=True) for a in ids),
                "sentences": sum(s.ranges[a].sentences for s, ids in zip(segments, live, strict=True) for a in ids),
            }
            if not counts["sentences"] and self.previous is None:  # an update may empty the index
                raise CiteqaError(f"the articles in '{shown_path(plan.corpus)}' contain no sentences to index")
            segments, live = self._merge(temp, segments, live)
            self.progress("writing", 0, 1)
            linked = link_segments(self.previous, [s.info.name for s in segments if s.directory.parent != temp], temp)
            files = {
                a: CatalogEntry(s.info.name, indexed_file(sources[a]))
                for s, ids in zip(segments, live, strict=True)
                for a in ids
            }
            fingerprints = {}
            for segment, ids in zip(segments, live, strict=True):
                fingerprints.update(segment.store.fingerprints(ids))
            previous_groups = self.previous.copy_groups() if self.previous is not None else None
            _write_catalog(temp, files, copy_groups(fingerprints, previous_groups, {a.id for _, a in articles}))
        except sqlite3.OperationalError as exc:  # SQLite reports a full disk in its own words, not as OSError
            if "full" in str(exc):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(temp)) from exc
            raise CiteqaError(f"cannot write the index at {temp.parent}: {first_line(exc)}") from exc
        finally:
            for segment in self._opened:
                segment.close()
        self.progress("writing", 1, 1)
        return {
            "model": self.params.model_id,
            "dim": dim,
            "segments": [asdict(s.info) for s in segments],
            "linked": linked,
            "params": asdict(self.params),
            "corpus": stored_path(plan.corpus),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "counts": counts,
            "skipped": [asdict(s) for s in plan.scan.skipped],
        }

    def _open(self, directory: Path, info: SegmentInfo, dim: int) -> Segment:
        segment = Segment(directory, info, dim)
        self._opened.append(segment)
        return segment

    def _segments(
        self, temp: Path, plan: UpdatePlan, prepared: list[PreparedArticle], dim: int
    ) -> tuple[list[Segment], list[set[str]]]:
        """The previous segments that keep live articles, then a new segment of the new articles; with each,
        its live article ids."""
        segments, live = [], []
        if self.previous is not None:
            for segment, previously_live in zip(self.previous.segments, self.previous.live_ids, strict=True):
                kept = previously_live & plan.reused.keys()
                if kept:
                    segments.append(segment)
                    live.append(kept)
        if prepared:
            graph = self.previous is None and ann_wanted(sum(len(p.vectors) for p in prepared))
            info = write_segment(temp / new_segment_name(), prepared, dim, graph)
            segments.append(self._open(temp / info.name, info, dim))
            live.append({p.article.id for p in prepared})
        return segments, live

    def _merge(self, temp: Path, segments: list[Segment], live: list[set[str]]) -> tuple[list[Segment], list[set[str]]]:
        """Merge the segments the policy chooses into one; a merged segment this update wrote is dropped."""
        if not segments:
            return segments, live
        live_sentences = [sum(s.ranges[a].sentences for a in ids) for s, ids in zip(segments, live, strict=True)]
        chosen, graph = self.policy.choose([s.info for s in segments], live_sentences)
        if not chosen:
            return segments, live
        self.progress("merging", 0, 1)
        info = merge_segments(temp / new_segment_name(), [(segments[i], live[i]) for i in chosen], graph)
        merged = self._open(temp / info.name, info, segments[0].dim)
        for i in chosen:
            if segments[i].directory.parent == temp:
                segments[i].close()
                shutil.rmtree(segments[i].directory)
        self.progress("merging", 1, 1)
        kept = [i for i in range(len(segments)) if i not in chosen]
        merged_ids = set().union(*(live[i] for i in chosen))
        return [segments[i] for i in kept] + [merged], [live[i] for i in kept] + [merged_ids]


def link_segments(previous: LoadedIndex | None, names: Sequence[str], temp: Path) -> dict[str, dict]:
    """Hard-link the files of the named segments of the previous generation into `temp`; their checksums,
    which carry over."""
    linked: dict[str, dict] = {}
    if previous is None:
        return linked
    wanted = set(names)
    for name, facts in previous.manifest["files"].items():
        if name.split("/", 1)[0] in wanted:
            (temp / name).parent.mkdir(parents=True, exist_ok=True)
            link_or_copy(previous.directory / name, temp / name)
            linked[name] = facts
    return linked


def _write_catalog(temp: Path, files: dict[str, tuple], groups: dict[str, str]) -> None:
    catalog = Catalog(temp / CATALOG, create=True)
    try:
        catalog.write(files, groups)
    finally:
        catalog.close()


def _describe(params: IndexParams) -> str:
    return (
        f"model {params.model_id}, {params.precision} vectors, {params.chunk_tokens}-token chunks, "
        f"overlap {params.overlap}"
    )
