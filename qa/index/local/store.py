"""The on-disk index: generations of segments (qa.index.local.segments), each segment with its SQLite metadata, sentence
vectors and BM25 term counts, and a catalog of the live articles.

Generations, the write lock and atomic publishing live in `qa.index.local.generations`; this module decides what goes
into a generation (an `UpdatePlan` against the corpus, built by a `GenerationBuilder`) and opens one for
reading (`qa.index.local.reader`).

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

from qa.errors import CiteqaError, IndexFormatError, IndexUnusableError, first_line
from qa.index.local.generations import MANIFEST, Generations, link_or_copy, read_manifest
from qa.index.local.reader import CATALOG, LoadedIndex
from qa.index.local.segments import (
    MergePolicy,
    Segment,
    SegmentInfo,
    merge_segments,
    new_segment_name,
    write_segment,
)
from qa.index.local.sqlite import Catalog, CatalogEntry
from qa.index.local.vectors import ann_wanted
from qa.index.seam import (
    IndexParams,
    IndexReader,
    Progress,
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
    SourceFile,
    file_facts,
    list_corpus,
    shown_path,
    stored_path,
)
from qa.ingest.duplicates import copy_groups

# A reader that finds its generation replaced while opening it retries with the new CURRENT.
OPEN_ATTEMPTS = 10


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

    def open(self, model_id: str | None = None, whole: bool = True, previous: IndexReader | None = None) -> LoadedIndex:
        """The live generation; `model_id`, when given, must be the one the index was built with. `whole` and
        `previous` (a reader of an earlier generation of this index, still open): see LoadedIndex."""
        earlier = previous if isinstance(previous, LoadedIndex) and previous.directory.parent == self.root else None
        for _ in range(OPEN_ATTEMPTS):
            generation = self.live_generation()
            if generation is None:
                raise IndexUnusableError(f"no index at {self.root}; build one with `citeqa index CORPUS`")
            try:
                loaded = LoadedIndex(generation, whole, earlier)
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
