"""The on-disk index: a generation of FAISS sentence vectors, BM25 models and SQLite metadata.

Generations, the write lock and atomic publishing live in `qa.generations`; this module decides what goes
into a generation (an `UpdatePlan` against the corpus, built by a `GenerationBuilder`) and opens one for reading.

Only sentences are embedded: a chunk's dense score is the best score of its sentences. On the SQuAD dev half
that ranked passages as well as embedding the chunks too (hybrid MRR@10 0.895 against 0.897 on 1,000
questions, a one-off experiment) for half the indexing time, and the answer step needs sentence vectors anyway.
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from qa.bm25 import Bm25Matrix
from qa.chunk import Chunk, chunk_embedding_text, chunk_sentences
from qa.duplicates import Fingerprint, copy_groups, fingerprint, other_copies
from qa.errors import REBUILD_HINT, CiteqaError, IndexFormatError, IndexUnusableError, first_line
from qa.formats import Unreadable
from qa.generations import MANIFEST, Generations, link_or_copy, read_manifest, verify_files
from qa.ingest import (
    SUPPORTED,
    Article,
    CorpusScan,
    Skipped,
    SkippedFile,
    SourceFile,
    file_facts,
    parse_article,
    scan_corpus,
    shown_path,
    stored_path,
)
from qa.lexical import lucene_idf
from qa.retrieve import top_rows
from qa.sentences import normalise_space
from qa.storage import (
    BM25_COLLECTIONS,
    ArticleRow,
    ChunkRow,
    IndexParams,
    Progress,
    Scope,
    SentenceRow,
    UpdateReport,
    no_progress,
)
from qa.store import MetadataStore
from qa.vectors import SentenceVectors, write_vectors

# A reader that finds its generation replaced while opening it retries with the new CURRENT.
OPEN_ATTEMPTS = 10
# Checked by SHA-256 on every open (opening BBC's index takes 91 ms instead of 83): damage there would not fail
# loudly but index out of bounds mid-question. The rest is checked by size on open, in full by `index --check`.
HASHED_ON_OPEN = ("bm25-",)


@dataclass
class UpdatePlan:
    """The corpus compared with the live generation: what to parse and embed, what to carry over."""

    corpus: Path
    scan: CorpusScan
    fresh: list[SourceFile]
    reused: dict[str, ArticleRow]
    moved: list[tuple[str, int, int, str]]  # (path, size, mtime_ns, id) of reused articles whose file facts changed
    report: UpdateReport
    needs_write: bool

    def skip(self, source: SourceFile, reason: str) -> None:
        """Leave out a file found unreadable only when parsed (a page without an article, a scanned PDF)."""
        skipped = Skipped(shown_path(source.path), reason, source.size, source.mtime_ns)
        warnings.warn(skipped.message, SkippedFile, stacklevel=3)
        self.scan.sources.remove(source)
        self.scan.skipped.append(skipped)
        if source.id in self.report.added:
            self.report.added.remove(source.id)
        else:  # a changed file that can no longer be read: its old version leaves the index
            self.report.changed.remove(source.id)
            self.report.removed.append(source.id)
        self.report.skipped += 1


class LoadedIndex:
    """One generation opened for reading (an `IndexReader`): vectors, BM25 models and metadata, checked for
    damage."""

    def __init__(self, directory: Path, whole: bool = True) -> None:
        """`whole` loads the vectors and both BM25 models now, as a reader needs: once open it needs nothing
        more from the disk, so a writer may replace and remove this generation under it (SQLite keeps its open
        file). A writer, which holds the lock, opens the metadata alone and loads the rest only if its update
        needs it: at a million sentences that is 2.5 GB an update of file facts never reads."""
        self.directory = directory
        self.manifest = read_manifest(directory)
        verify_files(directory, self.manifest, HASHED_ON_OPEN if whole else ())
        try:
            self.store = MetadataStore(directory / "meta.sqlite")
            self.counts = self.store.counts()
            self.chunk_spans = self.store.chunk_spans()
        except (RuntimeError, ValueError, OSError) as exc:
            raise IndexUnusableError(
                f"index at {directory.parent} is damaged ({first_line(exc)}); {REBUILD_HINT}"
            ) from exc
        if len(self.chunk_spans) != self.counts["chunks"]:
            raise IndexUnusableError(f"index at {directory.parent} is inconsistent (chunks); {REBUILD_HINT}")
        self._vectors: SentenceVectors | None = None
        self._bm25: dict[str, Bm25Matrix] = {}
        if whole:
            self.vectors  # noqa: B018 - loaded now, see above
            for name in BM25_COLLECTIONS:
                self._bm25_matrix(name)
        self._article_ids: dict[str, np.ndarray] = {}  # read on the first filtered question
        self._copy_groups: dict[str, str] | None = None
        self._last_scores: dict[str, tuple[tuple[str, ...], np.ndarray]] = {}  # by collection

    @property
    def vectors(self) -> SentenceVectors:
        if self._vectors is None:
            try:
                vectors = SentenceVectors(self.directory)
            except (RuntimeError, ValueError, OSError) as exc:
                raise IndexUnusableError(
                    f"index at {self.directory.parent} is damaged ({first_line(exc)}); {REBUILD_HINT}"
                ) from exc
            if vectors.count != self.counts["sentences"]:
                raise IndexUnusableError(
                    f"index at {self.directory.parent} is inconsistent (vectors and metadata disagree); {REBUILD_HINT}"
                )
            self._vectors = vectors
        return self._vectors

    @property
    def model_id(self) -> str:
        return self.manifest["model"]

    @property
    def params(self) -> IndexParams:
        return IndexParams(**self.manifest["params"])

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
        """Row masks: the chunks of the allowed articles (for BM25) and their sentence rows (for FAISS)."""
        chunks = np.isin(self.article_ids("chunks"), list(article_ids))
        sentences = np.flatnonzero(np.isin(self.article_ids("sentences"), list(article_ids)))
        return Scope(frozenset(article_ids), int(chunks.sum()), (chunks, sentences))

    def dense_sentences(self, vector: np.ndarray, n: int, scope: Scope | None = None) -> np.ndarray:
        """Inner-product search over the sentence vectors (exact, or the HNSW graph of a large index: see
        qa.vectors), restricted to the scope's sentences when given, so that a filtered question still gets n."""
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
            scores = self._bm25_matrix(collection).scores(terms)
            self._last_scores[collection] = (tuple(terms), scores)
        return scores

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
        """The article id of every row of `chunks` or `sentences`, read on first use."""
        if collection not in self._article_ids:
            self._article_ids[collection] = self.store.article_ids(collection)
        return self._article_ids[collection]

    def copy_groups(self) -> dict[str, str]:
        if self._copy_groups is None:
            self._copy_groups = self.store.copy_groups()
        return self._copy_groups

    def copies(self, article_id: str) -> list[ArticleRow]:
        return [self.store.article(other) for other in other_copies(self.copy_groups(), article_id)]

    def idf(self, terms: Sequence[str], collection: str) -> dict[str, float]:
        """From the document frequencies in the BM25 matrix."""
        matrix = self._bm25_matrix(collection)
        return {term: lucene_idf(matrix.document_frequency(term), matrix.num_docs) for term in terms}

    def chunks(self, rows: Sequence[int]) -> list[ChunkRow]:
        return self.store.chunks(rows)

    def sentences(self, rows: Sequence[int]) -> list[SentenceRow]:
        return self.store.sentences(rows)

    def article(self, article_id: str) -> ArticleRow:
        return self.store.article(article_id)

    def article_text(self, article_id: str) -> str:
        return self.store.article_text(article_id)

    def articles(self) -> list[ArticleRow]:
        return self.store.articles()

    def article_sentences(self, article_id: str) -> list[SentenceRow]:
        return self.store.article_sentences(article_id)

    def describe(self) -> dict:
        return {
            "generation": self.directory.name,
            "vectors": asdict(self.vectors.layout),
            "model": self.model_id,
            "precision": self.params.precision,
            "dim": self.manifest["dim"],
            "params": self.manifest["params"],
            "created": self.manifest["created"],
            "copies": len(self.copy_groups()),
            "size_bytes": self.size_bytes(),
        }

    def _bm25_matrix(self, name: str) -> Bm25Matrix:
        if name not in self._bm25:
            try:
                self._bm25[name] = Bm25Matrix.load(self.directory / f"bm25-{name}")
            except (OSError, ValueError, KeyError) as exc:
                raise IndexUnusableError(
                    f"BM25 data of the index at {self.directory.parent} is damaged ({first_line(exc)}); {REBUILD_HINT}"
                ) from exc
        return self._bm25[name]

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.directory.rglob("*") if p.is_file())

    def close(self) -> None:
        self.store.close()


class IndexDir:
    """An index directory (an `IndexStore`): opens the live generation, and plans and builds new ones under the
    write lock."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.generations = Generations(root)

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
            verify_files(loaded.directory, loaded.manifest)
            loaded.store.integrity_check()
            return dict(loaded.counts)
        finally:
            loaded.close()

    def is_stale(self, corpus: Path) -> bool:
        """True when files were added, removed or touched since the live generation (stat only, no reads)."""
        generation = self.live_generation()
        if generation is None:
            return True
        try:
            manifest = read_manifest(generation)
            store = MetadataStore(generation / "meta.sqlite")
            known = {(a.path, a.size, a.mtime_ns) for a in store.articles()}
            store.close()
        except IndexUnusableError:
            return True
        known |= {(item["path"], item["size"], item["mtime_ns"]) for item in manifest.get("skipped", [])}
        seen = file_facts(corpus)
        return seen is None or seen != known

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
            report = None if rebuild else self._unchanged(corpus, params)
            if report is None:
                report = self._update(corpus, params, embedder, progress, rebuild)
        report.seconds = time.perf_counter() - started
        return report

    def _unchanged(self, corpus: Path, params: IndexParams) -> UpdateReport | None:
        """The report of an update with nothing to do, when the file facts (stat only, no reads) and the
        manifest say so; None when anything may have changed. Opening the index to find nothing to do took
        15 s at a million sentences."""
        generation = self.live_generation()
        if generation is None:
            return None
        try:
            manifest = read_manifest(generation)
            built = IndexParams(**manifest["params"])
        except (IndexUnusableError, TypeError):
            return None
        if built != params or manifest["corpus"] != stored_path(corpus) or self.is_stale(corpus):
            return None
        return UpdateReport(unchanged=manifest["counts"]["articles"], skipped=len(manifest.get("skipped", [])))

    def _update(self, corpus: Path, params: IndexParams, embedder, progress: Progress, rebuild: bool) -> UpdateReport:
        previous = None if rebuild or not self.exists() else self._open_previous()
        try:
            plan = self._plan(corpus, params, previous)
            if plan.needs_write and previous is not None and plan.report.up_to_date:
                self._write_file_facts(previous, plan)
            elif plan.needs_write:
                articles = self._read(plan, progress)
                builder = GenerationBuilder(params, embedder, previous, progress)
                with self.generations.staging() as temp:
                    manifest = builder.write(temp, plan, articles)
                    self.generations.publish(temp, manifest)
        finally:
            if previous:
                previous.close()
        return plan.report

    def _write_file_facts(self, previous: LoadedIndex, plan: UpdatePlan) -> None:
        """No article was added, changed or removed: files were only touched or moved, or the skipped ones
        changed. The new generation hard-links every data file of the live one and rewrites only the file
        facts in a copy of meta.sqlite, so this costs a copy of the metadata, not a rebuild."""
        manifest = {key: value for key, value in previous.manifest.items() if key not in ("format", "files")}
        manifest["skipped"] = [asdict(s) for s in plan.scan.skipped]
        manifest["created"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        manifest["linked"] = {n: facts for n, facts in previous.manifest["files"].items() if n != "meta.sqlite"}
        with self.generations.staging() as temp:
            for name in manifest["linked"]:
                (temp / name).parent.mkdir(parents=True, exist_ok=True)
                link_or_copy(previous.directory / name, temp / name)
            previous.store.copy_with_file_facts(temp / "meta.sqlite", plan.moved)
            self.generations.publish(temp, manifest)

    def _read(self, plan: UpdatePlan, progress: Progress) -> list[Article]:
        """Parse the new and changed files; a page or PDF without article text is skipped, with a warning."""
        articles = []
        for done, source in enumerate(plan.fresh, 1):
            try:
                articles.append(parse_article(source))
            except Unreadable as exc:
                plan.skip(source, str(exc))
            progress("reading", done, len(plan.fresh))
        if not plan.scan.sources:
            raise CiteqaError(f"no readable articles in '{shown_path(plan.corpus)}' ({SUPPORTED})")
        return articles

    def _open_previous(self) -> LoadedIndex | None:
        """The generation to update; one written by another citeqa version is rebuilt, not refused (the index
        is derived data: the corpus is at hand)."""
        try:
            return self.open(whole=False)
        except IndexFormatError:
            return None

    def _plan(self, corpus: Path, params: IndexParams, previous: LoadedIndex | None) -> UpdatePlan:
        if previous is not None:
            self._check_same_index(corpus, params, previous)
        old_rows = {a.id: a for a in previous.store.articles()} if previous else {}
        scan = scan_corpus(corpus, {(a.path, a.size, a.mtime_ns): a.sha256 for a in old_rows.values()})
        known_skips = {s.facts: s for s in previous.skipped} if previous else {}
        # A file found unreadable when parsed (a page without an article) is not parsed again while unchanged.
        scan.skipped += [known_skips[_skip_facts(s)] for s in scan.sources if _skip_facts(s) in known_skips]
        scan.sources[:] = [s for s in scan.sources if _skip_facts(s) not in known_skips]
        for skipped in scan.skipped:
            if skipped.facts not in known_skips:
                warnings.warn(skipped.message, SkippedFile, stacklevel=3)
        if not scan.sources:
            raise CiteqaError(f"no readable articles in '{shown_path(corpus)}' ({SUPPORTED})")
        report = UpdateReport(skipped=len(scan.skipped))
        report.removed = sorted(set(old_rows) - {s.id for s in scan.sources})
        reused: dict[str, ArticleRow] = {}
        fresh: list[SourceFile] = []
        for source in scan.sources:
            old = old_rows.get(source.id)
            if old is None:
                report.added.append(source.id)
                fresh.append(source)
            elif old.sha256 != source.sha256:
                report.changed.append(source.id)
                fresh.append(source)
            else:
                reused[source.id] = old
        report.unchanged = len(reused)
        facts = {s.id: _file_facts(s) for s in scan.sources if s.id in reused}
        moved = [(*f, article_id) for article_id, f in facts.items() if f != _row_facts(reused[article_id])]
        skips_changed = known_skips.keys() != {s.facts for s in scan.skipped}
        needs_write = previous is None or not report.up_to_date or bool(moved) or skips_changed
        return UpdatePlan(corpus, scan, fresh, reused, moved, report, needs_write)

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
    """Writes one generation's files: new articles parsed and embedded, unchanged ones copied with their
    vectors from the previous generation, rows renumbered so that vectors and metadata stay aligned."""

    def __init__(self, params: IndexParams, embedder, previous: LoadedIndex | None, progress: Progress) -> None:
        self.params = params
        self.embedder = embedder
        self.previous = previous
        self.progress = progress
        self.chunk_texts: list[str] = []
        self.sentence_texts: list[str] = []
        self.vector_blocks: list[np.ndarray] = []
        self.carried_rows: list[np.ndarray] = []  # each new row's row in the previous generation, -1 if new
        self.fingerprints: dict[str, Fingerprint] = {}
        self.previous_fingerprints = previous.store.fingerprints() if previous else {}

    def write(self, temp: Path, plan: UpdatePlan, articles: list[Article]) -> dict:
        """Write meta.sqlite, the sentence vectors (qa.vectors) and the BM25 folders into `temp`; the manifest's
        contents."""
        vectors = self._embed(articles)
        plan.report.embedded = sum(len(a.sentences) for a in articles)
        for done, article in enumerate(articles, 1):
            self.fingerprints[article.id] = fingerprint(article.text)
            self.progress("finding copies", done, len(articles))
        new_by_id = {a.id: a for a in articles}
        cursor = 0
        try:
            store = MetadataStore(temp / "meta.sqlite", create=True)
            try:
                with store.db:
                    for source in sorted(plan.scan.sources, key=lambda s: s.id):
                        article = new_by_id.get(source.id)
                        if article is None:
                            self._copy_old(store, plan.reused[source.id], source)
                            continue
                        self._add_new(store, article, source, vectors[cursor : cursor + len(article.sentences)])
                        cursor += len(article.sentences)
                    store.set_copies(copy_groups(self.fingerprints))
            finally:
                store.close()
        except sqlite3.OperationalError as exc:  # SQLite reports a full disk in its own words, not as OSError
            if "full" in str(exc):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(temp)) from exc
            raise CiteqaError(f"cannot write the index at {temp.parent}: {first_line(exc)}") from exc
        if not self.sentence_texts:
            raise CiteqaError(f"the articles in '{shown_path(plan.corpus)}' contain no sentences to index")
        self.progress("writing", 0, 1)
        layout, linked = write_vectors(
            temp,
            np.concatenate(self.vector_blocks),
            np.concatenate(self.carried_rows),
            self.previous.vectors if self.previous else None,
        )
        _save_bm25(temp / "bm25-chunks", self.chunk_texts)
        _save_bm25(temp / "bm25-sentences", self.sentence_texts)
        self.progress("writing", 1, 1)
        return {
            "model": self.params.model_id,
            "dim": int(vectors.shape[1]),
            "vectors": asdict(layout),
            "linked": {name: self.previous.manifest["files"][name] for name in linked},
            "params": asdict(self.params),
            "corpus": stored_path(plan.corpus),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "counts": {
                "articles": len(plan.scan.sources),
                "chunks": len(self.chunk_texts),
                "sentences": len(self.sentence_texts),
            },
            "skipped": [asdict(s) for s in plan.scan.skipped],
        }

    def _embed(self, articles: list[Article]) -> np.ndarray:
        texts = [normalise_space(s.text) for article in articles for s in article.sentences]
        if not texts:  # only removals, renames or skips: nothing to embed, not even a model to load
            dim = self.previous.vectors.dim if self.previous else 0
            return np.zeros((0, dim), dtype=np.float32)
        done = 0

        def advance(n: int) -> None:
            nonlocal done
            done += n
            self.progress("embedding", done, len(texts))

        return self.embedder.encode(texts, progress=advance)

    def _add_new(self, store: MetadataStore, article: Article, source: SourceFile, vectors: np.ndarray) -> None:
        chunks = chunk_sentences(
            article.sentences, self.embedder.count_tokens, self.params.chunk_tokens, self.params.overlap
        )
        base = len(self.sentence_texts)
        store.add_article(
            (
                article.id,
                article.title,
                article.date,
                article.path,
                article.sha256,
                source.size,
                source.mtime_ns,
                article.text,
                article.author,
                article.source,
                article.url,
                json.dumps(article.pages) if article.pages else None,
                self.fingerprints[article.id].values.tobytes(),
                self.fingerprints[article.id].shingles,
            ),
            [(base + s.position, article.id, s.position, s.start, s.end, s.text) for s in article.sentences],
            self._chunk_rows(article.id, chunks, base),
        )
        self.chunk_texts += [chunk_embedding_text(article.title, c.text, self.params.title_in_chunks) for c in chunks]
        self.sentence_texts += [normalise_space(s.text) for s in article.sentences]
        self.vector_blocks.append(vectors)
        self.carried_rows.append(np.full(len(article.sentences), -1, dtype=np.int64))

    def _chunk_rows(self, article_id: str, chunks: list[Chunk], sentence_base: int) -> list[tuple]:
        base = len(self.chunk_texts)
        return [
            (base + c.position, article_id, c.position, sentence_base + c.first, sentence_base + c.last, c.text)
            for c in chunks
        ]

    def _copy_old(self, store: MetadataStore, row: ArticleRow, source: SourceFile) -> None:
        """Carry an unchanged article over from the previous generation, vectors included, renumbering rows."""
        previous = self.previous
        old_sentences = previous.store.article_sentences(row.id)
        old_chunks = previous.store.article_chunks(row.id)
        base = len(self.sentence_texts)
        shift = base - (old_sentences[0].row if old_sentences else 0)
        self.fingerprints[row.id] = self.previous_fingerprints[row.id]
        store.add_article(
            (
                row.id,
                row.title,
                row.date,
                stored_path(source.path),
                row.sha256,
                source.size,
                source.mtime_ns,
                previous.store.article_text(row.id),
                row.author,
                row.source,
                row.url,
                json.dumps(list(row.pages)) if row.pages else None,
                self.fingerprints[row.id].values.tobytes(),
                self.fingerprints[row.id].shingles,
            ),
            [(s.row + shift, s.article_id, s.position, s.start, s.end, s.text) for s in old_sentences],
            [
                (
                    len(self.chunk_texts) + i,
                    c.article_id,
                    c.position,
                    c.first_sentence_row + shift,
                    c.last_sentence_row + shift,
                    c.text,
                )
                for i, c in enumerate(old_chunks)
            ],
        )
        with_title = previous.params.title_in_chunks
        self.chunk_texts += [chunk_embedding_text(row.title, c.text, with_title) for c in old_chunks]
        self.sentence_texts += [normalise_space(s.text) for s in old_sentences]
        old_rows = np.array([s.row for s in old_sentences], dtype=np.int64)
        self.vector_blocks.append(previous.sentence_matrix(old_rows))
        self.carried_rows.append(old_rows)


def _save_bm25(directory: Path, texts: list[str]) -> None:
    import bm25s

    from qa.lexical import terms

    model = bm25s.BM25()
    model.index([terms(t) for t in texts], show_progress=False)
    model.save(str(directory), show_progress=False)


def _skip_facts(source: SourceFile) -> tuple[str, int, int]:
    return shown_path(source.path), source.size, source.mtime_ns


def _file_facts(source: SourceFile) -> tuple[str, int, int]:
    return stored_path(source.path), source.size, source.mtime_ns


def _row_facts(row: ArticleRow) -> tuple[str, int, int]:
    return row.path, row.size, row.mtime_ns


def _describe(params: IndexParams) -> str:
    return (
        f"model {params.model_id}, {params.precision} vectors, {params.chunk_tokens}-token chunks, "
        f"overlap {params.overlap}"
    )
