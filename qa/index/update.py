"""An index update, written once above the storage seam: every backend plans, reads, embeds and prepares the
same way, and only stores what this module hands it (haystack's "the store only stores").

1. `plan_update` compares the corpus with what the store has indexed (each article's file facts) and the
   files it knows to be unreadable: added, changed, removed, reused and touched articles, and the skips. A file
   found unreadable before is not read again while unchanged, and only new skips are warned about.
2. `read_articles` parses the new and changed files; one found unreadable only now leaves the plan.
3. `embed_sentences` embeds their sentences (no model is loaded when there are none).
4. `prepare` turns each article into the rows every backend keeps: chunks, BM25 terms of sentences and
   chunks, the answer step's folded terms and typed expressions, the fingerprint for copies, and the vectors.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.errors import CiteqaError
from qa.index.seam import IndexedFile, IndexParams, Progress, UpdateReport
from qa.ingest.chunk import Chunk, bm25_text, chunk_sentences
from qa.ingest.corpus import (
    SUPPORTED,
    Article,
    CorpusListing,
    CorpusScan,
    Skipped,
    SkippedFile,
    SourceFile,
    parse_article,
    scan_corpus,
    shown_path,
    stored_path,
)
from qa.ingest.duplicates import Fingerprint, fingerprint
from qa.ingest.formats import Unreadable
from qa.text.lexical import term_set, terms
from qa.text.mentions import encode_mentions
from qa.text.sentences import normalise_space


@dataclass
class UpdatePlan:
    """The corpus compared with what a store holds: what to read and embed, what to keep, what to re-date."""

    corpus: Path
    scan: CorpusScan
    indexed: dict[str, IndexedFile]
    fresh: list[SourceFile]  # new and changed files: to be read, embedded and written
    reused: dict[str, SourceFile]  # unchanged text, kept as stored
    touched: list[SourceFile]  # reused, but moved or re-dated: the stored facts follow the file
    report: UpdateReport
    known_skips: dict[tuple[str, int, int], Skipped]

    @property
    def skips_changed(self) -> bool:
        return self.known_skips.keys() != {s.facts for s in self.scan.skipped}

    @property
    def needs_write(self) -> bool:
        """Whether the store changes at all: articles, their files' facts, or the skipped files."""
        return not self.indexed or not self.report.up_to_date or bool(self.touched) or self.skips_changed

    def skip(self, source: SourceFile, reason: str) -> None:
        """Leave out a file found unreadable only when parsed (a page without an article, a scanned PDF)."""
        skipped = Skipped(shown_path(source.path), reason, source.size, source.mtime_ns)
        if skipped.facts not in self.known_skips:
            warnings.warn(skipped.message, SkippedFile, stacklevel=3)
        self.scan.sources.remove(source)
        self.scan.skipped.append(skipped)
        if source.id in self.report.added:
            self.report.added.remove(source.id)
        else:  # a changed file that can no longer be read: its old version leaves the index
            self.report.changed.remove(source.id)
            self.report.removed.append(source.id)
        self.report.skipped += 1


def plan_update(
    corpus: Path,
    indexed: dict[str, IndexedFile],
    known_skips: list[Skipped],
    listing: CorpusListing | None = None,
    follow_links: bool = False,
) -> UpdatePlan:
    """The plan of bringing a store that holds `indexed` (by article id; empty for a first build or a rebuild)
    and knows `known_skips` in line with `corpus`."""
    known = {s.facts: s for s in known_skips}
    by_facts = {f.stat: f.sha256 for f in indexed.values()}
    scan = scan_corpus(corpus, by_facts, listing, follow_links)
    if known:  # a file found unreadable when parsed (a page without an article) is not parsed again unchanged
        scan.skipped += [known[_skip_facts(s)] for s in scan.sources if _skip_facts(s) in known]
        scan.sources[:] = [s for s in scan.sources if _skip_facts(s) not in known]
    for skipped in scan.skipped:
        if skipped.facts not in known:
            warnings.warn(skipped.message, SkippedFile, stacklevel=3)
    if not scan.sources and not indexed:
        raise no_readable_articles(corpus)
    report = UpdateReport(skipped=len(scan.skipped))
    report.removed = sorted(set(indexed) - {s.id for s in scan.sources})
    fresh, reused, touched = [], {}, []
    for source in scan.sources:
        old = indexed.get(source.id)
        if old is None:
            report.added.append(source.id)
            fresh.append(source)
        elif old.sha256 != source.sha256:
            report.changed.append(source.id)
            fresh.append(source)
        else:
            reused[source.id] = source
            if old != indexed_file(source):
                touched.append(source)
    report.unchanged = len(reused)
    return UpdatePlan(corpus, scan, indexed, fresh, reused, touched, report, known)


def indexed_file(source: SourceFile) -> IndexedFile:
    """What a store records of an article's file once it is indexed."""
    return IndexedFile(stored_path(source.path), source.size, source.mtime_ns, source.sha256)


def no_readable_articles(corpus: Path) -> CiteqaError:
    return CiteqaError(f"no readable articles in '{shown_path(corpus)}' ({SUPPORTED})")


def read_articles(plan: UpdatePlan, progress: Progress) -> list[tuple[SourceFile, Article]]:
    """Parse the plan's new and changed files, by article id; a page or PDF without article text is skipped,
    with a warning. Nothing readable where nothing was indexed is an error; an update may empty an index."""
    articles, files = [], list(plan.fresh)
    for done, source in enumerate(files, 1):
        try:
            articles.append((source, parse_article(source)))
        except Unreadable as exc:
            plan.skip(source, str(exc))
            plan.fresh.remove(source)
        progress("reading", done, len(files))
    if not plan.scan.sources and not plan.indexed:
        raise no_readable_articles(plan.corpus)
    return sorted(articles, key=lambda pair: pair[1].id)


def embed_sentences(articles: list[tuple[SourceFile, Article]], embedder, progress: Progress) -> np.ndarray:
    """The vectors of every sentence of the articles, in order; no rows, and no model loaded, when none."""
    texts = [normalise_space(s.text) for _, article in articles for s in article.sentences]
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    done = 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        progress("embedding", done, len(texts))

    return embedder.encode(texts, progress=advance)


@dataclass(frozen=True)
class PreparedArticle:
    """Everything a backend stores of one new or changed article, computed once for every backend."""

    source: SourceFile
    article: Article
    chunks: list[Chunk]
    sentence_terms: list[list[str]]  # BM25 terms of each sentence
    chunk_terms: list[list[str]]  # BM25 terms of each chunk (with the title, per IndexParams)
    folded_terms: list[str]  # the answer step's folded terms of each sentence (qa.text.lexical.term_set), joined
    mentions: list[str]  # the typed expressions of each sentence (qa.text.mentions.encode_mentions)
    fingerprint: Fingerprint
    vectors: np.ndarray  # one row per sentence


def prepare(
    articles: list[tuple[SourceFile, Article]], vectors: np.ndarray, params: IndexParams, count_tokens, progress
) -> list[PreparedArticle]:
    """The rows of each article (in the order given, which `embed_sentences` embedded them in)."""
    prepared, cursor = [], 0
    for done, (source, article) in enumerate(articles, 1):
        chunks = chunk_sentences(article.sentences, count_tokens, params.chunk_tokens, params.overlap)
        count = len(article.sentences)
        prepared.append(
            PreparedArticle(
                source,
                article,
                chunks,
                [terms(normalise_space(s.text)) for s in article.sentences],
                [terms(bm25_text(article.title, c.text, params.title_in_chunks)) for c in chunks],
                [" ".join(term_set(s.text)) for s in article.sentences],
                [encode_mentions(s.text) for s in article.sentences],
                fingerprint(article.text),
                vectors[cursor : cursor + count],
            )
        )
        cursor += count
        progress("preparing", done, len(articles))
    return prepared


def _skip_facts(source: SourceFile) -> tuple[str, int, int]:
    return shown_path(source.path), source.size, source.mtime_ns
