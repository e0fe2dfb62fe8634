"""The on-disk index: generations of (FAISS vectors, sentence vectors, BM25, SQLite metadata, manifest).

Layout of an index directory:

    CURRENT            name of the live generation (replaced atomically)
    .lock              held by the one process allowed to write
    gen-<time>/        manifest.json, meta.sqlite, sentences.faiss, bm25-chunks/, bm25-sentences/

Only sentences are embedded: a chunk's dense score is the best score of its sentences. On the SQuAD dev half
that ranked passages as well as embedding the chunks too (hybrid MRR@10 0.895 against 0.897 on 1,000
questions, a one-off experiment) for half the indexing time, and the answer step needs sentence vectors anyway.

A write builds a complete new generation in a `tmp-…` folder, renames it into place, and only then points
CURRENT at it, so a write killed at any moment leaves the previous generation answering.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from qa.chunk import DEFAULT_CHUNK_TOKENS, DEFAULT_OVERLAP_SENTENCES, chunk_sentences
from qa.errors import CiteqaError, IndexBusyError, IndexUnusableError, first_line
from qa.ingest import Article, SourceFile, article_paths, parse_article, scan_corpus
from qa.sentences import normalise_space
from qa.store import ArticleRow, MetadataStore

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CURRENT = "CURRENT"
DATA_FILES = ("meta.sqlite", "sentences.faiss")
BM25_DIRS = ("bm25-chunks", "bm25-sentences")

# A reader that finds its generation replaced while opening it retries with the new CURRENT.
OPEN_ATTEMPTS = 5
# progress(stage, done, total): called as work advances; the CLI draws bars, the UI a progress widget.
Progress = Callable[[str, int, int], None]


def no_progress(stage: str, done: int, total: int) -> None:
    return None


@dataclass(frozen=True)
class IndexParams:
    """Everything that decides what the vectors mean; an index is only reused under the same params."""

    model_id: str
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
    seconds: float = 0.0

    @property
    def up_to_date(self) -> bool:
        return not (self.added or self.changed or self.removed)


def chunk_embedding_text(title: str, chunk_text: str, with_title: bool) -> str:
    """The text a chunk is BM25-indexed as: a headline gives every passage of an article its topic."""
    return f"{title}. {chunk_text}" if with_title and title else chunk_text


class LoadedIndex:
    """One generation opened for reading: vectors, BM25 models and metadata, checked for damage."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.manifest = _read_manifest(directory)
        for name, size in self.manifest.get("files", {}).items():
            path = directory / name
            if not path.exists() or path.stat().st_size != size:
                raise IndexUnusableError(
                    f"index file {path} is missing, truncated or damaged; rebuild with `citeqa index --rebuild`"
                )
        try:
            import faiss

            self.store = MetadataStore(directory / "meta.sqlite")
            self.counts = self.store.counts()
            self.sentence_vectors = faiss.read_index(str(directory / "sentences.faiss"))
            spans = self.store.db.execute("SELECT first_sentence_row, last_sentence_row FROM chunks ORDER BY row")
            self.chunk_spans = np.array(spans.fetchall(), dtype=np.int64).reshape(-1, 2)
        except (RuntimeError, ValueError, OSError, sqlite3.DatabaseError) as exc:
            raise IndexUnusableError(
                f"index at {directory.parent} is damaged ({first_line(exc)}); rebuild with `citeqa index --rebuild`"
            ) from exc
        if self.sentence_vectors.ntotal != self.counts["sentences"] or len(self.chunk_spans) != self.counts["chunks"]:
            raise IndexUnusableError(
                f"index at {directory.parent} is inconsistent (vectors and metadata disagree); "
                "rebuild with `citeqa index --rebuild`"
            )
        # Both BM25 models load now, not on first use: once open, a reader needs nothing more from the disk,
        # so a writer may replace and remove this generation under it (SQLite keeps its open file).
        self._bm25 = {name: self._load_bm25(name) for name in ("chunks", "sentences")}

    @property
    def model_id(self) -> str:
        return self.manifest["model"]

    @property
    def params(self) -> IndexParams:
        return IndexParams(**self.manifest["params"])

    def sentence_matrix(self, rows: np.ndarray) -> np.ndarray:
        """The unit vectors of the given sentence rows."""
        return self.sentence_vectors.reconstruct_batch(np.asarray(rows, dtype=np.int64))

    def bm25(self, name: str):
        """The BM25 model over `chunks` or `sentences`."""
        return self._bm25[name]

    def _load_bm25(self, name: str):
        import bm25s

        try:
            return bm25s.BM25.load(str(self.directory / f"bm25-{name}"), load_corpus=False)
        except (OSError, ValueError, KeyError) as exc:
            raise IndexUnusableError(
                f"BM25 data of the index at {self.directory.parent} is damaged ({first_line(exc)}); "
                "rebuild with `citeqa index --rebuild`"
            ) from exc

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.directory.rglob("*") if p.is_file())

    def close(self) -> None:
        self.store.close()


class IndexDir:
    """An index directory: opens the live generation, and builds new ones under a lock."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def exists(self) -> bool:
        return (self.root / CURRENT).exists()

    def live_generation(self) -> Path | None:
        try:
            name = (self.root / CURRENT).read_text().strip()
        except FileNotFoundError:
            return None
        return self.root / name

    def open(self, model_id: str | None = None) -> LoadedIndex:
        """The live generation; `model_id`, when given, must be the one the index was built with."""
        for _ in range(OPEN_ATTEMPTS):
            generation = self.live_generation()
            if generation is None:
                raise IndexUnusableError(f"no index at {self.root}; build one with `citeqa index CORPUS`")
            try:
                loaded = LoadedIndex(generation)
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

    def is_stale(self, corpus: Path) -> bool:
        """True when files were added, removed or touched since the live generation (stat only, no reads)."""
        generation = self.live_generation()
        if generation is None:
            return True
        try:
            store = MetadataStore(generation / "meta.sqlite")
            known = {(a.path, a.size, a.mtime_ns) for a in store.articles()}
            store.close()
        except sqlite3.DatabaseError:
            return True
        _, paths = article_paths(corpus)
        seen = set()
        for path in paths:
            stat = path.stat()
            seen.add((str(path.resolve()), stat.st_size, stat.st_mtime_ns))
        return seen != known

    def update(
        self,
        corpus: Path,
        params: IndexParams,
        embedder,
        progress: Progress = no_progress,
        rebuild: bool = False,
    ) -> UpdateReport:
        """Bring the index in line with `corpus`, embedding only new or changed articles."""
        from filelock import FileLock, Timeout

        started = time.perf_counter()
        self.root.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.root / ".lock"), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise IndexBusyError(
                f"another citeqa process is writing the index at {self.root}; try again when it has finished"
            ) from None
        try:
            report = self._update_locked(corpus, params, embedder, progress, rebuild)
        finally:
            lock.release()
        report.seconds = time.perf_counter() - started
        return report

    def _update_locked(self, corpus, params, embedder, progress, rebuild) -> UpdateReport:
        sources = list(scan_corpus(corpus))
        if not sources:
            raise CiteqaError(f"no readable articles in '{corpus}' (citeqa reads .txt and .md files)")
        previous = None if rebuild or not self.exists() else self.open()
        if previous is not None and previous.params != params:
            old = previous.params
            previous.close()
            what = "model" if old.model_id != params.model_id else "settings"
            raise IndexUnusableError(
                f"the index at {self.root} was built with other {what} ({_describe(old)}); "
                f"rebuild it with `citeqa index --rebuild` (add --model to choose the model)"
            )
        old_rows = {a.id: a for a in previous.store.articles()} if previous else {}
        report = UpdateReport()
        current_ids = {s.id for s in sources}
        report.removed = sorted(set(old_rows) - current_ids)
        reuse: dict[str, ArticleRow] = {}
        fresh: list[SourceFile] = []
        for source in sources:
            old = old_rows.get(source.id)
            if old is None:
                report.added.append(source.id)
                fresh.append(source)
            elif old.sha256 != source.sha256:
                report.changed.append(source.id)
                fresh.append(source)
            else:
                reuse[source.id] = old
        report.unchanged = len(reuse)
        moved = [s for s in sources if s.id in reuse and _file_facts(s) != _row_facts(reuse[s.id])]
        if report.up_to_date and not moved:
            if previous:
                previous.close()
            return report
        articles = []
        for source in fresh:
            articles.append(parse_article(source))
            progress("reading", len(articles), len(fresh))
        kept = sum(len(a.sentences) for a in articles) + (previous.counts["sentences"] if previous else 0)
        if not kept:
            raise CiteqaError(f"the articles in '{corpus}' contain no sentences to index")
        try:
            self._write_generation(corpus, sources, articles, reuse, previous, params, embedder, progress, report)
        finally:
            if previous:
                previous.close()
        return report

    def _write_generation(self, corpus, sources, articles, reuse, previous, params, embedder, progress, report) -> None:
        import faiss

        new_by_id = {a.id: a for a in articles}
        planned = {
            a.id: chunk_sentences(a.sentences, embedder.count_tokens, params.chunk_tokens, params.overlap)
            for a in articles
        }
        texts = [normalise_space(s.text) for article in articles for s in article.sentences]
        done = 0

        def advance(n: int) -> None:
            nonlocal done
            done += n
            progress("embedding", done, len(texts))

        if texts:
            vectors = embedder.encode(texts, progress=advance)
            dim = vectors.shape[1]
        else:  # only removals or renames: nothing to embed, not even a model to load
            dim = previous.sentence_vectors.d
            vectors = np.zeros((0, dim), dtype=np.float32)
        report.embedded = len(texts)

        temp = self.root / f"tmp-{uuid.uuid4().hex[:8]}"
        temp.mkdir()
        store = MetadataStore(temp / "meta.sqlite", create=True)
        sentence_blocks, chunk_texts, sentence_texts = [], [], []
        cursor = 0
        by_source = {s.id: s for s in sources}
        with store.db:
            for article_id in sorted(by_source):
                source = by_source[article_id]
                if article_id in new_by_id:
                    article = new_by_id[article_id]
                    chunks = planned[article_id]
                    sent_vecs = vectors[cursor : cursor + len(article.sentences)]
                    cursor += len(article.sentences)
                    c_texts, s_texts = self._insert_new(
                        store, article, chunks, source, params, len(chunk_texts), len(sentence_texts)
                    )
                else:
                    c_texts, s_texts, sent_vecs = self._copy_old(
                        store, previous, reuse[article_id], source, len(chunk_texts), len(sentence_texts)
                    )
                sentence_blocks.append(sent_vecs)
                chunk_texts += c_texts
                sentence_texts += s_texts
        store.close()
        progress("writing", 0, 1)
        flat = faiss.IndexFlatIP(dim)
        flat.add(np.ascontiguousarray(np.concatenate(sentence_blocks), dtype=np.float32))
        faiss.write_index(flat, str(temp / "sentences.faiss"))
        _save_bm25(temp / "bm25-chunks", chunk_texts)
        _save_bm25(temp / "bm25-sentences", sentence_texts)
        manifest = {
            "format": FORMAT_VERSION,
            "model": params.model_id,
            "dim": int(dim),
            "params": asdict(params),
            "corpus": str(corpus.resolve()),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "counts": {"articles": len(sources), "chunks": len(chunk_texts), "sentences": len(sentence_texts)},
            "files": {name: (temp / name).stat().st_size for name in DATA_FILES},
        }
        (temp / MANIFEST).write_text(json.dumps(manifest, indent=2))
        _fsync_tree(temp)
        generation = self.root / f"gen-{time.time_ns()}"
        os.rename(temp, generation)
        _atomic_write(self.root / CURRENT, generation.name)
        progress("writing", 1, 1)
        self._remove_stale(keep=generation.name)

    def _insert_new(self, store, article: Article, chunks, source: SourceFile, params, chunk_base, sentence_base):
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
            ),
            [(sentence_base + s.position, article.id, s.position, s.start, s.end, s.text) for s in article.sentences],
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
        chunk_texts = [chunk_embedding_text(article.title, c.text, params.title_in_chunks) for c in chunks]
        return chunk_texts, [normalise_space(s.text) for s in article.sentences]

    def _copy_old(self, store, previous: LoadedIndex, row: ArticleRow, source: SourceFile, chunk_base, sentence_base):
        """Carry an unchanged article over from the previous generation, vectors included, renumbering rows."""
        old_sentences = previous.store.article_sentences(row.id)
        old_chunks = previous.store.article_chunks(row.id)
        shift = sentence_base - (old_sentences[0].row if old_sentences else 0)
        store.add_article(
            (
                row.id,
                row.title,
                row.date,
                str(source.path.resolve()),
                row.sha256,
                source.size,
                source.mtime_ns,
                previous.store.article_text(row.id),
            ),
            [(s.row + shift, s.article_id, s.position, s.start, s.end, s.text) for s in old_sentences],
            [
                (
                    chunk_base + i,
                    c.article_id,
                    c.position,
                    c.first_sentence_row + shift,
                    c.last_sentence_row + shift,
                    c.text,
                )
                for i, c in enumerate(old_chunks)
            ],
        )
        sent_vecs = previous.sentence_matrix(np.array([s.row for s in old_sentences], dtype=np.int64))
        with_title = previous.params.title_in_chunks
        chunk_texts = [chunk_embedding_text(row.title, c.text, with_title) for c in old_chunks]
        return chunk_texts, [normalise_space(s.text) for s in old_sentences], sent_vecs

    def _remove_stale(self, keep: str) -> None:
        """Drop earlier generations and leftovers of interrupted writes; readers that opened them keep their
        open files (POSIX), and a reader that lost the race retries with the new CURRENT."""
        for child in self.root.iterdir():
            if child.is_dir() and child.name != keep and child.name.startswith(("gen-", "tmp-")):
                shutil.rmtree(child, ignore_errors=True)


def _save_bm25(directory: Path, texts: list[str]) -> None:
    import bm25s

    from qa.lexical import terms

    model = bm25s.BM25()
    model.index([terms(t) for t in texts], show_progress=False)
    model.save(str(directory), show_progress=False)


def _file_facts(source: SourceFile) -> tuple[str, int, int]:
    return str(source.path.resolve()), source.size, source.mtime_ns


def _row_facts(row: ArticleRow) -> tuple[str, int, int]:
    return row.path, row.size, row.mtime_ns


def _read_manifest(directory: Path) -> dict:
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
        manifest["params"], manifest["model"], manifest["format"]
    except FileNotFoundError:
        raise IndexUnusableError(
            f"index generation {directory} is missing; rebuild with `citeqa index --rebuild`"
        ) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise IndexUnusableError(
            f"the manifest of the index at {directory.parent} is damaged ({first_line(exc)}); "
            "rebuild with `citeqa index --rebuild`"
        ) from exc
    if manifest["format"] != FORMAT_VERSION:
        raise IndexUnusableError(
            f"the index at {directory.parent} has format {manifest['format']}, this citeqa reads format "
            f"{FORMAT_VERSION}; rebuild with `citeqa index --rebuild`"
        )
    return manifest


def _describe(params: IndexParams) -> str:
    return f"model {params.model_id}, {params.chunk_tokens}-token chunks, overlap {params.overlap}"


def _atomic_write(path: Path, text: str) -> None:
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    with open(temp, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)
    _fsync_dir(path.parent)


def _fsync_tree(directory: Path) -> None:
    for path in directory.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    _fsync_dir(directory)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
