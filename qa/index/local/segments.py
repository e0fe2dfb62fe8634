"""Segments: the immutable parts of an index generation, shared by later generations through hard links.

A segment is a folder written once and never changed: its articles, sentences and chunks (`meta.sqlite`), its sentence
vectors (`qa.index.local.vectors`) and its raw term counts for BM25 (`qa.index.local.bm25`), rows numbered from 0. A
generation is a list of segments and a small catalog saying which of their articles are live. So an update writes one
new segment with the new and changed articles, a new catalog, and hard links to the segments it keeps; an article
changed or removed stays in its old segment as a tombstone, which no search returns.

Segments pile up and tombstones waste space and time, so an update also merges, as Lucene does
(`MergePolicy`): every live article of several segments is copied, with its vectors and term counts, into one
new segment, and nothing is embedded again. A full merge of all segments orders articles by id, as a fresh
build does, and builds the HNSW graph when the index is large enough for one.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from qa.index.local.bm25 import TermCounts
from qa.index.local.sqlite import MetadataStore
from qa.index.local.vectors import SegmentVectors, ann_wanted, write_segment_vectors

if TYPE_CHECKING:
    from qa.index.update import PreparedArticle

PREFIX = "seg-"
MAX_SEGMENTS = 8  # more, and the segments after the first are merged into one
MERGE_SHARE = 0.2  # tombstones (or, beside a graph, sentences outside it) past this share: merge everything


def new_segment_name() -> str:
    return f"{PREFIX}{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True)
class SegmentInfo:
    """A segment as the manifest lists it: its folder and its row counts, tombstones included."""

    name: str
    articles: int
    sentences: int
    chunks: int
    graph: bool = False


class Segment:
    """One segment opened for reading; vectors and term counts are loaded when first asked for."""

    def __init__(self, directory: Path, info: SegmentInfo, dim: int, previous: Segment | None = None) -> None:
        """`previous`: this segment as an earlier generation opened it (a segment never changes), whose article
        ranges, vectors and term counts are shared instead of read again; its database is opened anew."""
        self.directory = directory
        self.info = info
        self.dim = dim
        self.store = MetadataStore(directory / "meta.sqlite")
        if previous is not None and previous.info == info and previous.dim == dim:
            self.ranges, self._vectors, self._terms = previous.ranges, previous._vectors, dict(previous._terms)
            return
        self.ranges = self.store.article_ranges()
        self._vectors: SegmentVectors | None = None
        self._terms: dict[str, TermCounts] = {}

    @property
    def vectors(self) -> SegmentVectors:
        if self._vectors is None:
            self._vectors = SegmentVectors(self.directory, self.dim)
        return self._vectors

    def terms(self, collection: str) -> TermCounts:
        if collection not in self._terms:
            self._terms[collection] = TermCounts.load(self.directory / f"terms-{collection}")
        return self._terms[collection]

    def close(self) -> None:
        self.store.close()


def write_segment(directory: Path, articles: Sequence[PreparedArticle], dim: int, graph: bool) -> SegmentInfo:
    """A new segment of these articles (qa.index.update's rows), in the order given."""
    directory.mkdir()
    store = MetadataStore(directory / "meta.sqlite", create=True)
    sentence_base = chunk_base = 0
    try:
        with store.db:
            for prepared in articles:
                article, sentences, chunks = prepared.article, prepared.article.sentences, prepared.chunks
                store.add_article(
                    (
                        article.id,
                        sentence_base,
                        len(sentences),
                        chunk_base,
                        len(chunks),
                        article.title,
                        article.date,
                        article.sha256,
                        article.author,
                        article.source,
                        article.url,
                        json.dumps(article.pages) if article.pages else None,
                        prepared.fingerprint.shingles,
                        prepared.fingerprint.values.tobytes(),
                        article.text,
                    ),
                    [
                        (sentence_base + s.position, article.id, s.position, s.start, s.end, s.text, folded, mentions)
                        for s, folded, mentions in zip(sentences, prepared.folded_terms, prepared.mentions, strict=True)
                    ],
                    [
                        (
                            chunk_base + c.position,
                            article.id,
                            c.position,
                            sentence_base + c.first,
                            sentence_base + c.last,
                            c.text,
                        )
                        for c in chunks
                    ],
                )
                sentence_base += len(sentences)
                chunk_base += len(chunks)
    finally:
        store.close()
    blocks = [a.vectors for a in articles if len(a.vectors)]
    write_segment_vectors(directory, np.concatenate(blocks) if blocks else np.zeros((0, dim), np.float32), graph)
    TermCounts.from_terms([t for a in articles for t in a.sentence_terms]).save(directory / "terms-sentences")
    TermCounts.from_terms([t for a in articles for t in a.chunk_terms]).save(directory / "terms-chunks")
    return SegmentInfo(directory.name, len(articles), sentence_base, chunk_base, graph)


def merge_segments(directory: Path, sources: Sequence[tuple[Segment, set[str]]], graph: bool) -> SegmentInfo:
    """One new segment of the given live articles of several segments, ordered by id; their vectors and term
    counts are carried over, nothing is embedded or tokenized again."""
    directory.mkdir()
    order = sorted((article_id, i) for i, (_, live) in enumerate(sources) for article_id in live)
    new_sentence_rows = [np.full(s.info.sentences, -1, dtype=np.int64) for s, _ in sources]
    new_chunk_rows = [np.full(s.info.chunks, -1, dtype=np.int64) for s, _ in sources]
    store = MetadataStore(directory / "meta.sqlite", create=True)
    sentence_base = chunk_base = 0
    try:
        with store.db:
            for article_id, i in order:
                segment = sources[i][0]
                first_sentence, sentences, first_chunk, chunks = segment.ranges[article_id]
                store.copy_article(segment.store, article_id, sentence_base, chunk_base)
                new_sentence_rows[i][first_sentence : first_sentence + sentences] = np.arange(sentences) + sentence_base
                new_chunk_rows[i][first_chunk : first_chunk + chunks] = np.arange(chunks) + chunk_base
                sentence_base += sentences
                chunk_base += chunks
    finally:
        store.close()
    dim = sources[0][0].dim
    vectors = np.zeros((sentence_base, dim), dtype=np.float32)
    for (segment, _), new_rows in zip(sources, new_sentence_rows, strict=True):
        kept = np.flatnonzero(new_rows >= 0)
        if len(kept):
            vectors[new_rows[kept]] = segment.vectors.matrix(kept)
    write_segment_vectors(directory, vectors, graph)
    for collection, new_rows, total in (
        ("sentences", new_sentence_rows, sentence_base),
        ("chunks", new_chunk_rows, chunk_base),
    ):
        parts = [(segment.terms(collection), rows) for (segment, _), rows in zip(sources, new_rows, strict=True)]
        TermCounts.combine(parts, total).save(directory / f"terms-{collection}")
    return SegmentInfo(directory.name, len(order), sentence_base, chunk_base, graph)


@dataclass(frozen=True)
class MergePolicy:
    """Which segments an update merges, from their sizes and tombstones."""

    max_segments: int = MAX_SEGMENTS
    share: float = MERGE_SHARE

    def choose(self, segments: Sequence[SegmentInfo], live_sentences: Sequence[int]) -> tuple[list[int], bool]:
        """(positions of the segments to merge into one, whether that merge is full and builds a graph).
        A full merge when tombstones pass `share` of the rows, when a graph should be built or dropped, or
        when the sentences outside the graph pass `share` of it (without a graph: pass the first segment);
        else the segments after the first when there are more than `max_segments`; else none."""
        rows = sum(s.sentences for s in segments)
        live = sum(live_sentences)
        everything = list(range(len(segments)))
        wants_graph = ann_wanted(live)
        has_graph = bool(segments) and segments[0].graph
        outside = live - live_sentences[0] if segments else 0
        if (
            rows - live > self.share * rows
            or wants_graph != has_graph
            or outside > (self.share if has_graph else 1.0) * live_sentences[0]
        ):
            return everything, wants_graph
        if len(segments) > self.max_segments:
            return everything[1:], False
        return [], False
