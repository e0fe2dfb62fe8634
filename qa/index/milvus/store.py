"""The Milvus store's writing side (an `IndexStore`): qa.index.update plans, reads, embeds and prepares the
articles; this writes their rows, deletes, re-dates and keeps the document frequencies and copies."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np

from qa.errors import CiteqaError, IndexUnusableError
from qa.index.milvus.collections import (
    ARTICLE_FIELDS,
    ARTICLE_NUMBERS,
    ARTICLE_TEXT,
    BATCH,
    MAX_TEXT,
    POSITION_BITS,
    PREFIX,
    PROBES,
    SCHEMA_VERSION,
    TEXT_PART,
    Collections,
    article_number,
    article_of,
    corpus_key,
    ints,
    name_number,
    term_counts,
)
from qa.index.milvus.lease import WriterLease
from qa.index.milvus.reader import MilvusReader
from qa.index.seam import ArticleRow, IndexedFile, IndexParams, IndexReader, Progress, UpdateReport, no_progress
from qa.index.update import PreparedArticle, embed_sentences, plan_update, prepare, read_articles
from qa.ingest.corpus import Skipped, SourceFile, file_facts, shown_path, stored_path
from qa.ingest.duplicates import Fingerprint, copy_groups


class MilvusStore(Collections):
    """An index in Milvus (an `IndexStore`)."""

    def __init__(self, uri: str, follow_links: bool = False) -> None:
        """`follow_links`: read links that lead out of the corpus too (qa.ingest.corpus.list_corpus)."""
        super().__init__(uri)
        self.follow_links = follow_links

    def built_with(self) -> IndexParams | None:
        meta = self.meta("index")
        return IndexParams(**meta["params"]) if meta else None

    def is_stale(self, corpus: Path) -> bool:
        if not self.exists():
            return True
        home = stored_path(corpus)
        known = {(a.path, a.size, a.mtime_ns) for _, a in self._articles_of(home).values()}
        known |= {
            (s["path"], s["size"], s["mtime_ns"]) for s in (self.meta(f"skipped\x1f{home}") or {}).get("files", [])
        }
        seen = file_facts(corpus, follow_links=self.follow_links)
        return seen != known

    def open(self, model_id: str | None = None, previous: IndexReader | None = None) -> MilvusReader:
        """The collections as they are; `previous` shares nothing (a question reads the server, not a copy)."""
        meta = self.meta("index")
        if meta is None:
            raise IndexUnusableError(
                f"no index in Milvus at {self.uri}; build one with `citeqa index CORPUS --store {self.uri}`"
            )
        if model_id is not None and meta["model"] != model_id:
            raise IndexUnusableError(
                f"the Milvus collections at {self.uri} were built with model '{meta['model']}', not '{model_id}'; "
                "use another --store, or --model to match"
            )
        for name in ("sentences", "chunks", "articles", "texts", "terms", "copies"):
            self.db.load_collection(self.name(name))
        return MilvusReader(self, meta)

    def check(self) -> dict[str, int]:
        """Every article's sentence and chunk counts against the rows present."""
        counts = self.open().counts
        rows = self.rows("articles", "", ["sentences", "chunks"])
        expected = {
            "articles": len(rows),
            "chunks": sum(r["chunks"] for r in rows),
            "sentences": sum(r["sentences"] for r in rows),
        }
        if counts != expected:
            raise IndexUnusableError(
                f"the Milvus collections at {self.uri} disagree: {counts} rows, {expected} expected"
            )
        return counts

    # -- writing -------------------------------------------------------------------------------------
    def _create(self, dim: int | None) -> None:
        """The collections that are missing; only the meta collection while the vectors' width is not known."""
        from pymilvus import DataType, Function, FunctionType, MilvusClient

        def schema(*fields, bm25: bool = False, vector: int | None = None):
            made = MilvusClient.create_schema(auto_id=False)
            for name, kind, extra in fields:
                made.add_field(name, kind, **extra)
            if bm25:
                made.add_field("terms", DataType.VARCHAR, max_length=MAX_TEXT, enable_analyzer=True, enable_match=True)
                made.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
                made.add_function(
                    Function(
                        name="bm25",
                        function_type=FunctionType.BM25,
                        input_field_names=["terms"],
                        output_field_names=["sparse"],
                    )
                )
            if vector:
                made.add_field("vector", DataType.FLOAT_VECTOR, dim=vector)
            elif not bm25:  # Milvus wants a vector field in every collection
                made.add_field("dummy", DataType.FLOAT_VECTOR, dim=2)
            return made

        text = (DataType.VARCHAR, {"max_length": MAX_TEXT})
        number = (DataType.INT64, {})
        key = ("number", DataType.INT64, {"is_primary": True})
        layouts = {
            "meta": schema(key, ("value", *text)),
            "articles": schema(
                key, *((name, *text) for name in ARTICLE_TEXT), *((name, *number) for name in ARTICLE_NUMBERS)
            ),
            "texts": schema(key, ("article", *number), ("part", *number), ("text", *text)),
            "sentences": schema(
                ("row", DataType.INT64, {"is_primary": True}),
                *((name, *number) for name in ("article", "position", "start", "end", "chunk_a", "chunk_b")),
                ("text", *text),
                ("folded", *text),
                ("mentions", *text),
                bm25=True,
                vector=dim,
            ),
            "chunks": schema(
                ("row", DataType.INT64, {"is_primary": True}),
                *((name, *number) for name in ("article", "position", "first", "last")),
                ("text", *text),
                bm25=True,
            ),
            "terms": schema(key, ("df", *number)),
            "copies": schema(key, ("group", *number)),
        }
        for name, layout in layouts.items():
            if (dim is None and name != "meta") or self.db.has_collection(self.name(name)):
                continue
            index = self.db.prepare_index_params()
            fields = {f.name for f in layout.fields}
            if "vector" in fields:
                index.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
            if "dummy" in fields:
                index.add_index(field_name="dummy", index_type="FLAT", metric_type="L2")
            if "sparse" in fields:
                index.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25", params={})
            self.db.create_collection(self.name(name), schema=layout, index_params=index)
            self.db.load_collection(self.name(name))

    def _articles_of(self, corpus: str) -> dict[str, tuple[int, ArticleRow]]:
        """The corpus's articles by id, with their numbers."""
        rows = self.rows("articles", "", ARTICLE_FIELDS)
        return {r["id"]: (r["number"], article_of(r)) for r in rows if r["corpus"] == corpus}

    def update(
        self, corpus: Path, params: IndexParams, embedder, progress: Progress = no_progress, rebuild: bool = False
    ) -> UpdateReport:
        """Bring this corpus's articles in Milvus in line with the folder (qa.index.update plans, reads, embeds and
        prepares them): new and changed ones inserted, removed ones deleted, touched ones re-dated; other
        corpora are left alone."""
        started = time.perf_counter()
        existing = self.meta("index")
        if existing is not None and existing.get("schema", 1) != SCHEMA_VERSION:
            raise IndexUnusableError(
                f"the Milvus collections at {self.uri} were written by an older citeqa (schema "
                f"{existing.get('schema', 1)}, this one writes {SCHEMA_VERSION}); index into another --store, or drop "
                f"the {PREFIX}* collections to build them again"
            )
        if existing is not None and IndexParams(**existing["params"]) != params:
            built = IndexParams(**existing["params"])
            raise IndexUnusableError(
                f"the Milvus collections at {self.uri} were built with model {built.model_id} "
                f"({built.precision}); use another --store, or --model to match"
            )
        self._create(None)  # the lease lives in the meta collection
        lease = WriterLease(self)
        with lease.held():
            report = self._write_update(corpus, params, embedder, _renewing(progress, lease), rebuild, existing)
        report.seconds = time.perf_counter() - started
        return report

    def _write_update(
        self, corpus: Path, params: IndexParams, embedder, progress: Progress, rebuild: bool, existing: dict | None
    ) -> UpdateReport:
        """The update's work, under the writer lease."""
        home = stored_path(corpus)
        indexed = self._articles_of(home) if existing is not None else {}
        numbers = {article_id: number for article_id, (number, _) in indexed.items()}
        # a rebuild plans as if nothing were indexed, and every article's old rows go only once the new ones are
        # read, embedded and prepared: a rebuild that fails before writing leaves the corpus answering as it was
        files = {a: IndexedFile(row.path, row.size, row.mtime_ns, row.sha256) for a, (_, row) in indexed.items()}
        known_skips = [Skipped(**s) for s in (self.meta(f"skipped\x1f{home}") or {}).get("files", [])]
        plan = plan_update(corpus, {} if rebuild else files, known_skips, follow_links=self.follow_links)
        articles = read_articles(plan, progress)
        vectors = embed_sentences(articles, embedder, progress)
        plan.report.embedded = len(vectors)
        prepared = prepare(articles, vectors, params, embedder.count_tokens, progress)
        dim = _dimension(existing, vectors, embedder)
        self._create(dim)
        self.set_meta(
            "index",
            {
                "schema": SCHEMA_VERSION,
                "model": params.model_id,
                "dim": dim,
                "params": asdict(params),
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            },
        )
        df: Counter[str] = Counter()
        for article_id in numbers if rebuild else plan.report.removed + plan.report.changed:
            df.subtract(self._remove(numbers[article_id]))
        assigned = self._numbers_for([corpus_key(home, p.article.id) for p in prepared])
        writer = _Writer(self)
        for done, article in enumerate(prepared, 1):
            df.update(writer.add(self._rows_of(home, assigned[corpus_key(home, article.article.id)], article)))
            progress("writing", done, len(prepared))
        writer.flush()
        for source in plan.touched:  # unchanged text, but moved or touched: its facts follow the file
            self._touch(numbers[source.id], source)
        self._add_df(df)
        self.set_meta(f"skipped\x1f{home}", {"files": [asdict(s) for s in plan.scan.skipped]})
        self._regroup_copies()
        for name in ("meta", "articles", "texts", "sentences", "chunks", "terms", "copies"):
            self.db.flush(self.name(name))
        return plan.report

    def _numbers_for(self, keys: Sequence[str]) -> dict[str, int]:
        """Each article's number: its hash, or the next free one when another article has it."""
        assigned: dict[str, int] = {}
        taken: set[int] = set()
        for start in range(0, len(keys), BATCH):
            batch = keys[start : start + BATCH]
            wanted = {key: article_number(key) for key in batch}
            owners = {
                r["number"]: r["key"]
                for r in self.db.query(
                    self.name("articles"), filter=f"number in {ints(wanted.values())}", output_fields=["key"]
                )
            }
            for key, number in wanted.items():
                probe = 0
                while owners.get(number, key) != key or number in taken:
                    probe += 1
                    if probe == PROBES:
                        raise CiteqaError(f"no free article number for {key!r} after {PROBES} tries")
                    number = article_number(key, probe)
                    found = self.db.query(self.name("articles"), filter=f"number == {number}", output_fields=["key"])
                    owners.update({number: found[0]["key"]} if found else {})
                assigned[key] = number
                taken.add(number)
        return assigned

    def _rows_of(self, home: str, number: int, prepared: PreparedArticle) -> dict[str, list[dict]]:
        """One article's rows for every collection (its sentences, chunks, text parts and its own row)."""
        article, source, chunks = prepared.article, prepared.source, prepared.chunks
        if len(article.sentences) >= 1 << POSITION_BITS:
            raise CiteqaError(f"{shown_path(source.path)} has more than {1 << POSITION_BITS} sentences")
        base = number << POSITION_BITS
        holders: dict[int, list[int]] = {}
        for chunk in chunks:
            for position in range(chunk.first, chunk.last + 1):
                holders.setdefault(position, []).append(base + chunk.position)
        sentence_rows = []
        kept = zip(prepared.sentence_terms, prepared.folded_terms, prepared.mentions, prepared.vectors, strict=True)
        for s, (words, folded, mentions, vector) in zip(article.sentences, kept, strict=True):
            inside = [*holders.get(s.position, []), -1, -1]
            sentence_rows.append(
                {
                    "row": base + s.position,
                    "article": number,
                    "position": s.position,
                    "start": s.start,
                    "end": s.end,
                    "chunk_a": inside[0],
                    "chunk_b": inside[1],
                    "text": s.text,
                    "terms": " ".join(words) or "_",
                    "vector": vector.tolist(),
                    "folded": folded,
                    "mentions": mentions,
                }
            )
        chunk_rows = [
            {
                "row": base + c.position,
                "article": number,
                "position": c.position,
                "first": base + c.first,
                "last": base + c.last,
                "text": c.text,
                "terms": " ".join(words) or "_",
            }
            for c, words in zip(chunks, prepared.chunk_terms, strict=True)
        ]
        parts = [article.text[i : i + TEXT_PART] for i in range(0, len(article.text), TEXT_PART)] or [""]
        text_rows = [
            {"number": (number << 16) + i, "article": number, "part": i, "text": part, "dummy": [0.0, 0.0]}
            for i, part in enumerate(parts)
        ]
        mark = prepared.fingerprint
        return {
            "sentences": sentence_rows,
            "chunks": chunk_rows,
            "texts": text_rows,
            "articles": [
                {
                    "number": number,
                    "corpus": home,
                    "id": article.id,
                    "title": article.title[:2000],
                    "date": article.date or "",
                    "path": stored_path(source.path),
                    "sha256": article.sha256,
                    "author": article.author or "",
                    "source": article.source or "",
                    "url": article.url or "",
                    "pages": json.dumps(article.pages),
                    "fingerprint": mark.values.tobytes().hex(),
                    "size": source.size,
                    "mtime_ns": source.mtime_ns,
                    "shingles": mark.shingles,
                    "sentences": len(article.sentences),
                    "chunks": len(chunks),
                    "dummy": [0.0, 0.0],
                    "key": corpus_key(home, article.id),
                }
            ],
        }

    def _remove(self, number: int) -> Counter[str]:
        """Delete an article's rows; the document frequencies they took away."""
        df: Counter[str] = Counter()
        for collection in ("sentences", "chunks"):
            df.update(term_counts(collection, self.rows(collection, f"article == {number}", ["terms"])))
        for collection in ("sentences", "chunks", "texts"):
            self.db.delete(self.name(collection), filter=f"article == {number}")
        self.db.delete(self.name("articles"), ids=[number])
        return df

    def _touch(self, number: int, source: SourceFile) -> None:
        (row,) = self.db.query(self.name("articles"), filter=f"number == {number}", output_fields=["*"])
        row.pop("sparse", None)
        row.update(path=stored_path(source.path), size=source.size, mtime_ns=source.mtime_ns)
        self.db.upsert(self.name("articles"), [row])

    def _add_df(self, delta: Counter[str]) -> None:
        """Add document-frequency changes to the terms collection (read, add, write back)."""
        changed = {k: v for k, v in delta.items() if v}
        numbers = {k: name_number(k) for k in changed}
        for start in range(0, len(changed), BATCH):
            keys = list(changed)[start : start + BATCH]
            current = {
                r["number"]: r["df"]
                for r in self.db.get(self.name("terms"), ids=[numbers[k] for k in keys], output_fields=["df"])
            }
            rows, gone = [], []
            for k in keys:
                value = current.get(numbers[k], 0) + changed[k]
                if value > 0:
                    rows.append({"number": numbers[k], "df": value, "dummy": [0.0, 0.0]})
                else:
                    gone.append(numbers[k])
            if rows:
                self.db.upsert(self.name("terms"), rows)
            if gone:
                self.db.delete(self.name("terms"), ids=gone)

    def _regroup_copies(self) -> None:
        rows = self.rows("articles", "", ["number", "fingerprint", "shingles"])
        marks = {
            str(r["number"]): Fingerprint(
                np.frombuffer(bytes.fromhex(r["fingerprint"]), dtype=np.uint64), r["shingles"]
            )
            for r in rows
        }
        groups = copy_groups(marks)
        self.db.delete(self.name("copies"), filter="number >= 0")
        if groups:
            self.db.insert(
                self.name("copies"),
                [{"number": int(k), "group": int(g), "dummy": [0.0, 0.0]} for k, g in groups.items()],
            )


def _renewing(progress: Progress, lease: WriterLease) -> Progress:
    """`progress`, renewing the lease as the update goes (every step reports progress)."""

    def report(stage: str, done: int, total: int) -> None:
        lease.renew()
        progress(stage, done, total)

    return report


def _dimension(existing: dict | None, vectors: np.ndarray, embedder) -> int:
    """The stored dimension, else the new vectors': an update with nothing to embed loads no model."""
    if existing is not None:
        return int(existing["dim"])
    return int(vectors.shape[1]) if len(vectors) else embedder.dim


class _Writer:
    """Rows of many articles written BATCH at a time; an article's own row goes after its sentences, chunks
    and text, so that an article listed is an article complete (an update stopped midway redoes it)."""

    ORDER = ("sentences", "chunks", "texts", "articles")

    def __init__(self, store: MilvusStore) -> None:
        self.store = store
        self.pending: dict[str, list[dict]] = {name: [] for name in self.ORDER}

    def add(self, rows: dict[str, list[dict]]) -> Counter[str]:
        """Queue one article's rows; the document frequencies of its terms, by collection."""
        df = term_counts("sentences", rows["sentences"]) + term_counts("chunks", rows["chunks"])
        for name in self.ORDER:
            self.pending[name] += rows[name]
        if len(self.pending["sentences"]) >= BATCH:
            self.flush()
        return df

    def flush(self) -> None:
        for name in self.ORDER:
            rows = self.pending[name]
            for start in range(0, len(rows), BATCH):
                self.store.db.upsert(self.store.name(name), rows[start : start + BATCH])
            self.pending[name] = []
