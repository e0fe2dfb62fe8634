"""The Milvus backend: articles, sentences with their vectors, and chunks in Milvus collections, for an archive
that outgrows one machine (`--store milvus://HOST:PORT`), or embedded in one file with Milvus Lite
(`--store NAME.db`). Needs the `milvus` extra (pymilvus, milvus-lite).

What the local backend keeps in segments (SQLite, vector matrices, BM25 term counts) lives here in Milvus:
- sentences: text, vector (FLAT inner product: exact, as the local backend below its threshold) and BM25 over
  their terms;
- chunks: text, sentence range and BM25 over their terms (Milvus's own BM25 function, fed the same stemmed
  terms that the local index counts, so both backends match the same words);
- articles (metadata, fingerprint), their text in parts, the document frequency of every term (for the answer
  step's term weights), copies of one story, and the index parameters.

Row numbers are integers only, so no file name or article text ever reaches a filter expression: an article's
number is a hash of its corpus and id, and its sentence (and chunk) rows are that number shifted left by
`POSITION_BITS` plus the position, consecutive within the article as the seam requires.

One store holds many corpora: several citeqa processes, on different machines, may index different folders
into one Milvus and all answer from all of them. An update touches only its own corpus's articles.
Articles of the asking corpus keep their plain ids; those of other corpora are named `folder:id`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np

from qa.errors import CiteqaError, IndexUnusableError, first_line
from qa.index.seam import (
    ArticleRow,
    ChunkRow,
    IndexedFile,
    IndexParams,
    Progress,
    Scope,
    SentenceRow,
    StoredIndexReader,
    UpdateReport,
    no_progress,
)
from qa.index.update import PreparedArticle, embed_sentences, plan_update, prepare, read_articles
from qa.ingest.corpus import Skipped, SourceFile, file_facts, shown_path, stored_path
from qa.ingest.duplicates import Fingerprint, copy_groups
from qa.text.lexical import BM25_B, BM25_K1, lucene_idf

# 2: sentences keep the answer step's folded terms and typed expressions, as the local backend's do
SCHEMA_VERSION = 2
PREFIX = "citeqa_"
POSITION_BITS = 20  # up to 1,048,576 sentences an article
ARTICLE_BITS = 62 - POSITION_BITS
TEXT_PART = 15_000  # characters: a VARCHAR holds 65,535 bytes, and a character takes up to 4
MAX_TEXT = 65_535
BATCH = 500
PAGE = 16_384  # Milvus returns at most this many rows a query
PROBES = 8  # article numbers tried after its hash collides with another article's


class _Guarded:
    """A pymilvus client whose every error (Milvus's own, gRPC's for a lost server) is a one-line citeqa error."""

    def __init__(self, client, uri: str) -> None:
        self._client = client
        self._uri = uri

    def __getattr__(self, name: str):
        method = getattr(self._client, name)

        def call(*args, **kwargs):
            try:
                return method(*args, **kwargs)
            except CiteqaError:
                raise
            except Exception as exc:  # MilvusException, grpc.RpcError, connection errors: all the server's
                raise IndexUnusableError(f"Milvus at {self._uri}: {first_line(exc)}") from exc

        return call


def _client(uri: str) -> _Guarded:
    """A pymilvus client for `milvus://HOST:PORT` (a server) or a `.db` file (Milvus Lite, started in-process)."""
    # gRPC's core logs keepalive notes of Milvus Lite's embedded server straight to stderr, past Python logging.
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    try:
        from pymilvus import MilvusClient
    except ImportError as exc:
        raise CiteqaError("the Milvus store needs the milvus extra: pip install 'citeqa[milvus]'") from exc
    if uri.startswith("milvus://"):
        target = "http://" + uri.removeprefix("milvus://")
    else:
        path = Path(uri).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        target = str(path)
    # Their notes would interleave with answers on stderr (Milvus Lite's embedded server logs the RPCs it lacks,
    # which pymilvus then does without); real failures still reach us as exceptions.
    for noisy in ("pymilvus", "grpc._server", "milvus_lite"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    try:
        client = MilvusClient(uri=target, timeout=10)
    except Exception as exc:  # pymilvus raises its own and grpc's errors for an unreachable server
        if uri.startswith("milvus://"):
            raise IndexUnusableError(f"cannot reach Milvus at {uri} ({first_line(exc)})") from exc
        raise IndexUnusableError(
            f"cannot open the Milvus Lite file {uri}: another process is using it (Milvus Lite allows one at a "
            f"time; use a Milvus server for several), or it is not a Milvus Lite database ({first_line(exc)})"
        ) from exc
    guarded = _Guarded(client, uri)
    for name in guarded.list_collections():
        if name.startswith(PREFIX):
            guarded.load_collection(name)
    return guarded


def _hash64(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big")


def _article_number(key: str, probe: int = 0) -> int:
    return ((_hash64(key) >> (64 - ARTICLE_BITS)) + probe) % (1 << ARTICLE_BITS) + 1


def _name_number(key: str) -> int:
    """The primary key of a named row (a term's document frequency, a meta entry): 63 bits of its hash."""
    return _hash64(key) >> 1


def _key(corpus: str, article_id: str) -> str:
    return f"{corpus}\x1f{article_id}"


def _ints(values: Iterable[int]) -> str:
    return "[" + ",".join(str(int(v)) for v in values) + "]"


class MilvusStore:
    """An index in Milvus (an `IndexStore`)."""

    def __init__(self, uri: str, follow_links: bool = False) -> None:
        """`follow_links`: read links that lead out of the corpus too (qa.ingest.corpus.list_corpus)."""
        self.uri = uri
        self.follow_links = follow_links
        self._db = None

    @property
    def location(self) -> str:
        return self.uri

    @property
    def db(self):
        if self._db is None:
            self._db = _client(self.uri)
        return self._db

    def close(self) -> None:
        """Let go of the connection (Milvus Lite: of the .db file, which one process at a time may hold)."""
        if self._db is not None:
            self._db.close()
            self._db = None

    def _name(self, collection: str) -> str:
        return PREFIX + collection

    def exists(self) -> bool:
        return self._meta("index") is not None

    def _meta(self, key: str) -> dict | None:
        if not self.db.has_collection(self._name("meta")):
            return None
        rows = self.db.query(self._name("meta"), filter=f"number == {_name_number(key)}", output_fields=["value"])
        return json.loads(rows[0]["value"]) if rows else None

    def _set_meta(self, key: str, value: dict) -> None:
        self.db.upsert(
            self._name("meta"), [{"number": _name_number(key), "value": json.dumps(value), "dummy": [0.0, 0.0]}]
        )

    def built_with(self) -> IndexParams | None:
        meta = self._meta("index")
        return IndexParams(**meta["params"]) if meta else None

    def is_stale(self, corpus: Path) -> bool:
        if not self.exists():
            return True
        home = stored_path(corpus)
        known = {(a.path, a.size, a.mtime_ns) for _, a in self._articles_of(home).values()}
        known |= {
            (s["path"], s["size"], s["mtime_ns"]) for s in (self._meta(f"skipped\x1f{home}") or {}).get("files", [])
        }
        seen = file_facts(corpus, follow_links=self.follow_links)
        return seen != known

    def open(self, model_id: str | None = None) -> MilvusReader:
        meta = self._meta("index")
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
            self.db.load_collection(self._name(name))
        return MilvusReader(self, meta)

    def check(self) -> dict[str, int]:
        """Every article's sentence and chunk counts against the rows present."""
        counts = self.open().counts
        rows = self._rows("articles", "", ["sentences", "chunks"])
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
    def _create(self, dim: int) -> None:
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
                key, *((name, *text) for name in _ARTICLE_TEXT), *((name, *number) for name in _ARTICLE_NUMBERS)
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
            if self.db.has_collection(self._name(name)):
                continue
            index = self.db.prepare_index_params()
            fields = {f.name for f in layout.fields}
            if "vector" in fields:
                index.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
            if "dummy" in fields:
                index.add_index(field_name="dummy", index_type="FLAT", metric_type="L2")
            if "sparse" in fields:
                index.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25", params={})
            self.db.create_collection(self._name(name), schema=layout, index_params=index)
            self.db.load_collection(self._name(name))

    def _rows(self, collection: str, expression: str, fields: list[str]) -> list[dict]:
        """Every row matching `expression`, page by page."""
        name = self._name(collection)
        if not expression:
            iterator = self.db.query_iterator(name, batch_size=PAGE // 4, output_fields=fields)
        else:
            iterator = self.db.query_iterator(name, batch_size=PAGE // 4, filter=expression, output_fields=fields)
        found = []
        while batch := iterator.next():
            found += batch
        iterator.close()
        return found

    def _articles_of(self, corpus: str) -> dict[str, tuple[int, ArticleRow]]:
        """The corpus's articles by id, with their numbers."""
        rows = self._rows("articles", "", _ARTICLE_FIELDS)
        return {r["id"]: (r["number"], _article(r)) for r in rows if r["corpus"] == corpus}

    def update(
        self, corpus: Path, params: IndexParams, embedder, progress: Progress = no_progress, rebuild: bool = False
    ) -> UpdateReport:
        """Bring this corpus's articles in Milvus in line with the folder (qa.index.update plans, reads, embeds and
        prepares them): new and changed ones inserted, removed ones deleted, touched ones re-dated; other
        corpora are left alone."""
        started = time.perf_counter()
        existing = self._meta("index")
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
        home = stored_path(corpus)
        indexed = self._articles_of(home) if existing is not None else {}
        numbers = {article_id: number for article_id, (number, _) in indexed.items()}
        # a rebuild plans as if nothing were indexed, and every article's old rows go only once the new ones are
        # read, embedded and prepared: a rebuild that fails before writing leaves the corpus answering as it was
        files = {a: IndexedFile(row.path, row.size, row.mtime_ns, row.sha256) for a, (_, row) in indexed.items()}
        known_skips = [Skipped(**s) for s in (self._meta(f"skipped\x1f{home}") or {}).get("files", [])]
        plan = plan_update(corpus, {} if rebuild else files, known_skips, follow_links=self.follow_links)
        articles = read_articles(plan, progress)
        vectors = embed_sentences(articles, embedder, progress)
        plan.report.embedded = len(vectors)
        prepared = prepare(articles, vectors, params, embedder.count_tokens, progress)
        dim = _dimension(existing, vectors, embedder)
        self._create(dim)
        self._set_meta(
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
        assigned = self._numbers_for([_key(home, p.article.id) for p in prepared])
        writer = _Writer(self)
        for done, article in enumerate(prepared, 1):
            df.update(writer.add(self._rows_of(home, assigned[_key(home, article.article.id)], article)))
            progress("writing", done, len(prepared))
        writer.flush()
        for source in plan.touched:  # unchanged text, but moved or touched: its facts follow the file
            self._touch(numbers[source.id], source)
        self._add_df(df)
        self._set_meta(f"skipped\x1f{home}", {"files": [asdict(s) for s in plan.scan.skipped]})
        self._regroup_copies()
        for name in ("meta", "articles", "texts", "sentences", "chunks", "terms", "copies"):
            self.db.flush(self._name(name))
        plan.report.seconds = time.perf_counter() - started
        return plan.report

    def _numbers_for(self, keys: Sequence[str]) -> dict[str, int]:
        """Each article's number: its hash, or the next free one when another article has it."""
        assigned: dict[str, int] = {}
        taken: set[int] = set()
        for start in range(0, len(keys), BATCH):
            batch = keys[start : start + BATCH]
            wanted = {key: _article_number(key) for key in batch}
            owners = {
                r["number"]: r["key"]
                for r in self.db.query(
                    self._name("articles"), filter=f"number in {_ints(wanted.values())}", output_fields=["key"]
                )
            }
            for key, number in wanted.items():
                probe = 0
                while owners.get(number, key) != key or number in taken:
                    probe += 1
                    if probe == PROBES:
                        raise CiteqaError(f"no free article number for {key!r} after {PROBES} tries")
                    number = _article_number(key, probe)
                    found = self.db.query(self._name("articles"), filter=f"number == {number}", output_fields=["key"])
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
                    "key": _key(home, article.id),
                }
            ],
        }

    def _remove(self, number: int) -> Counter[str]:
        """Delete an article's rows; the document frequencies they took away."""
        df: Counter[str] = Counter()
        for collection in ("sentences", "chunks"):
            df.update(_term_counts(collection, self._rows(collection, f"article == {number}", ["terms"])))
        for collection in ("sentences", "chunks", "texts"):
            self.db.delete(self._name(collection), filter=f"article == {number}")
        self.db.delete(self._name("articles"), ids=[number])
        return df

    def _touch(self, number: int, source: SourceFile) -> None:
        (row,) = self.db.query(self._name("articles"), filter=f"number == {number}", output_fields=["*"])
        row.pop("sparse", None)
        row.update(path=stored_path(source.path), size=source.size, mtime_ns=source.mtime_ns)
        self.db.upsert(self._name("articles"), [row])

    def _add_df(self, delta: Counter[str]) -> None:
        """Add document-frequency changes to the terms collection (read, add, write back)."""
        changed = {k: v for k, v in delta.items() if v}
        numbers = {k: _name_number(k) for k in changed}
        for start in range(0, len(changed), BATCH):
            keys = list(changed)[start : start + BATCH]
            current = {
                r["number"]: r["df"]
                for r in self.db.get(self._name("terms"), ids=[numbers[k] for k in keys], output_fields=["df"])
            }
            rows, gone = [], []
            for k in keys:
                value = current.get(numbers[k], 0) + changed[k]
                if value > 0:
                    rows.append({"number": numbers[k], "df": value, "dummy": [0.0, 0.0]})
                else:
                    gone.append(numbers[k])
            if rows:
                self.db.upsert(self._name("terms"), rows)
            if gone:
                self.db.delete(self._name("terms"), ids=gone)

    def _regroup_copies(self) -> None:
        rows = self._rows("articles", "", ["number", "fingerprint", "shingles"])
        marks = {
            str(r["number"]): Fingerprint(
                np.frombuffer(bytes.fromhex(r["fingerprint"]), dtype=np.uint64), r["shingles"]
            )
            for r in rows
        }
        groups = copy_groups(marks)
        self.db.delete(self._name("copies"), filter="number >= 0")
        if groups:
            self.db.insert(
                self._name("copies"),
                [{"number": int(k), "group": int(g), "dummy": [0.0, 0.0]} for k, g in groups.items()],
            )


def _sentence_row(row: dict, article_id: str) -> SentenceRow:
    """A sentence as the seam gives it, with its folded terms and typed expressions where the store keeps them."""
    return SentenceRow(
        row["row"],
        article_id,
        row["position"],
        row["start"],
        row["end"],
        row["text"],
        row.get("folded"),
        row.get("mentions"),
    )


def _dimension(existing: dict | None, vectors: np.ndarray, embedder) -> int:
    """The stored dimension, else the new vectors': an update with nothing to embed loads no model."""
    if existing is not None:
        return int(existing["dim"])
    return int(vectors.shape[1]) if len(vectors) else embedder.dim


def _term_counts(collection: str, rows: Iterable[dict]) -> Counter[str]:
    """How many of the rows (sentences or chunks) hold each term, their share of its document frequency, and
    how many terms they hold in all (for BM25's average length)."""
    rows = list(rows)
    counts = Counter(f"{collection}\x1f{t}" for row in rows for t in set(row["terms"].split()) - {"_"})
    counts[_length_key(collection)] = sum(len([t for t in r["terms"].split() if t != "_"]) for r in rows)
    return counts


def _length_key(collection: str) -> str:
    """The name under which the total number of terms of a collection's rows is kept with the frequencies."""
    return f"{collection}\x1e"


class _Writer:
    """Rows of many articles written BATCH at a time; an article's own row goes after its sentences, chunks
    and text, so that an article listed is an article complete (an update stopped midway redoes it)."""

    ORDER = ("sentences", "chunks", "texts", "articles")

    def __init__(self, store: MilvusStore) -> None:
        self.store = store
        self.pending: dict[str, list[dict]] = {name: [] for name in self.ORDER}

    def add(self, rows: dict[str, list[dict]]) -> Counter[str]:
        """Queue one article's rows; the document frequencies of its terms, by collection."""
        df = _term_counts("sentences", rows["sentences"]) + _term_counts("chunks", rows["chunks"])
        for name in self.ORDER:
            self.pending[name] += rows[name]
        if len(self.pending["sentences"]) >= BATCH:
            self.flush()
        return df

    def flush(self) -> None:
        for name in self.ORDER:
            rows = self.pending[name]
            for start in range(0, len(rows), BATCH):
                self.store.db.upsert(self.store._name(name), rows[start : start + BATCH])
            self.pending[name] = []


# The articles collection's columns besides its number; the rest of a row is the text, kept in parts.
_ARTICLE_TEXT = (
    "key",
    "corpus",
    "id",
    "title",
    "date",
    "path",
    "sha256",
    "author",
    "source",
    "url",
    "pages",
    "fingerprint",
)
_ARTICLE_NUMBERS = ("size", "mtime_ns", "shingles", "sentences", "chunks")
_ARTICLE_FIELDS = ["number", *_ARTICLE_TEXT[1:-1], "size", "mtime_ns"]  # what an ArticleRow is made of

# What a reader fetches of a row, all at once (not the BM25 terms and sparse vector, nor fingerprints).
_ROW_FIELDS = {
    "sentences": ["row", "article", "position", "start", "end", "text", "chunk_a", "chunk_b", "vector", "terms"],
    "chunks": ["row", "article", "position", "first", "last", "text", "terms"],
    "articles": [*_ARTICLE_FIELDS, "sentences", "chunks"],
}
REMEMBERED_ROWS = 50_000
# BM25 candidates asked of Milvus, to be scored with the store's own statistics: this many times those wanted.
CANDIDATE_FACTOR = 4
MIN_CANDIDATES = 200


def _article(row: dict, shown_id: str | None = None) -> ArticleRow:
    return ArticleRow(
        id=shown_id or row["id"],
        title=row["title"],
        date=row["date"] or None,
        path=row["path"],
        sha256=row["sha256"],
        size=row["size"],
        mtime_ns=row["mtime_ns"],
        author=row["author"] or None,
        source=row["source"] or None,
        url=row["url"] or None,
        pages=tuple(json.loads(row["pages"] or "[]")),
    )


class MilvusReader(StoredIndexReader):
    """The Milvus store opened for answering (an `IndexReader`): every call is a query to Milvus."""

    def __init__(self, store: MilvusStore, meta: dict) -> None:
        self.store = store
        self.db = store.db
        self.meta = self.built = meta
        # a store of schema 1 keeps no folded terms or typed expressions: the answer step finds them per question
        kept = ["folded", "mentions"] if meta.get("schema", 1) >= 2 else []
        self._row_fields = {**_ROW_FIELDS, "sentences": [*_ROW_FIELDS["sentences"], *kept]}
        self.home: str | None = None  # the asking corpus: its articles keep their plain ids
        self._shown: dict[int, str] = {}  # article number → the id shown for it
        self._numbers: dict[str, int] = {}
        self._counts: dict[str, int] | None = None
        self._groups: dict[str, str] | None = None
        self._lengths: dict[str, float] = {}  # collection → the mean terms of its rows
        self._rows_seen: dict[str, dict[int, dict]] = {"sentences": {}, "chunks": {}, "articles": {}}

    @property
    def counts(self) -> dict[str, int]:
        if self._counts is None:
            self._counts = {
                name: self.db.query(self.store._name(name), filter="", output_fields=["count(*)"])[0]["count(*)"]
                for name in ("articles", "chunks", "sentences")
            }
        return self._counts

    def require_corpus(self, corpus: Path) -> None:
        """A Milvus store holds many corpora; the asking one's articles are named by their plain ids."""
        self.home = stored_path(corpus)
        self._shown.clear()
        self._numbers.clear()

    # -- names ---------------------------------------------------------------------------------------
    def _remember(self, rows: Iterable[dict]) -> None:
        for row in rows:
            shown = row["id"] if row["corpus"] == self.home else f"{Path(row['corpus']).name}:{row['id']}"
            self._shown[row["number"]] = shown
            self._numbers[shown] = row["number"]

    def _shown_ids(self, numbers: Iterable[int]) -> list[str]:
        numbers = [int(n) for n in numbers]
        missing = sorted(set(numbers) - self._shown.keys())
        if missing:
            self._remember(self.db.get(self.store._name("articles"), ids=missing, output_fields=["corpus", "id"]))
        return [self._shown[n] for n in numbers]

    def _number(self, article_id: str) -> int:
        if article_id not in self._numbers:
            self._remember(self.store._rows("articles", "", ["number", "corpus", "id"]))
        if article_id not in self._numbers:
            raise IndexUnusableError(f"no article '{article_id}' in the Milvus store at {self.store.uri}")
        return self._numbers[article_id]

    def _get(self, collection: str, ids: Sequence[int], fields: list[str]) -> list[dict]:
        """Rows by primary key, in the order asked. Sentences and chunks are fetched whole and remembered: a
        question asks for the same rows several times (their ranges, vectors, text), and each round trip to
        Milvus Lite costs ~25 ms."""
        ids = [int(i) for i in ids]
        remembered = self._rows_seen.get(collection)
        if remembered is not None:
            fields = self._row_fields[collection]
            if len(remembered) > REMEMBERED_ROWS:
                remembered.clear()
        found: dict[int, dict] = {} if remembered is None else remembered
        missing = [i for i in dict.fromkeys(ids) if i not in found]
        for start in range(0, len(missing), PAGE):
            batch = missing[start : start + PAGE]
            for row in self.db.get(self.store._name(collection), ids=batch, output_fields=fields):
                found[row["row"] if "row" in row else row["number"]] = row
        return [found[i] for i in ids]

    # -- searching -----------------------------------------------------------------------------------
    def scope(self, article_ids: Sequence[str]) -> Scope:
        numbers = [self._number(a) for a in article_ids]
        chunks = sum(r["chunks"] for r in self._get("articles", numbers, ["number", "chunks"]))
        return Scope(frozenset(article_ids), chunks, f"article in {_ints(numbers)}")

    def _search(self, collection: str, data, field: str, n: int, expression: str) -> list[dict]:
        if n <= 0:
            return []
        hits = self.db.search(
            self.store._name(collection),
            data=[data],
            anns_field=field,
            limit=min(n, PAGE),
            filter=expression,
            output_fields=["row"],
        )
        return list(hits[0])

    def dense_sentences(self, vector: np.ndarray, n: int, scope: Scope | None = None) -> np.ndarray:
        hits = self._search(
            "sentences", vector.astype(np.float32).tolist(), "vector", n, scope.payload if scope else ""
        )
        return np.array([h["row"] for h in hits], dtype=np.int64)

    def bm25_top(
        self, terms: Sequence[str], collection: str, n: int, scope: Scope | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Milvus's BM25 finds the candidates; they are scored as the local backend scores them (`bm25_of`):
        Milvus Lite weighs terms by the statistics of each segment, so one text scored a fifth as high once an
        update had written it into a new segment."""
        if not terms:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        wanted = min(max(CANDIDATE_FACTOR * n, MIN_CANDIDATES), PAGE)
        hits = self._search(collection, " ".join(terms), "sparse", wanted, scope.payload if scope else "")
        rows = np.array([h["row"] for h in hits], dtype=np.int64)
        scores = self.bm25_of(terms, collection, rows)
        best = np.argsort(-scores, kind="stable")[:n]
        best = best[scores[best] > 0]
        return rows[best], scores[best]

    def bm25_of(self, terms: Sequence[str], collection: str, rows: Sequence[int]) -> np.ndarray:
        """BM25 with the statistics of the whole store (the local backend's formula: Lucene's idf, k1 1.5, b 0.75),
        from the rows' stored terms and the document frequencies and lengths kept beside them."""
        rows = [int(r) for r in rows]
        out = np.zeros(len(rows), dtype=np.float32)
        if not terms or not rows:
            return out
        found = self._get(collection, rows, self._row_fields[collection])
        documents = [Counter(t for t in r["terms"].split() if t != "_") for r in found]
        lengths = np.array([sum(d.values()) for d in documents], dtype=np.float64)
        total = self.counts[collection]
        norm = BM25_K1 * ((1 - BM25_B) + BM25_B * lengths / np.float64(self._average_length(collection)))
        idf = self.idf(terms, collection)
        for term in terms:
            counts = np.array([d.get(term, 0) for d in documents], dtype=np.float32)
            if total and counts.any():
                out += (np.float32(idf[term]) * (counts / (norm + counts))).astype(np.float32)
        return out

    def _average_length(self, collection: str) -> float:
        """The mean number of terms of the collection's rows, from the total kept with the document frequencies
        (a store written before they were kept counts its rows once)."""
        if collection not in self._lengths:
            key = _name_number(_length_key(collection))
            kept = self.db.get(self.store._name("terms"), ids=[key], output_fields=["df"])
            if kept:
                total = kept[0]["df"]
            else:
                rows = self.store._rows(collection, "", ["terms"])
                total = sum(len([t for t in r["terms"].split() if t != "_"]) for r in rows)
            self._lengths[collection] = total / self.counts[collection] if self.counts[collection] else 1.0
        return self._lengths[collection]

    def chunks_containing(self, sentence_rows: np.ndarray) -> np.ndarray:
        found = self._get("sentences", sentence_rows, ["row", "chunk_a", "chunk_b"])
        # As the local backend orders them: every sentence's last chunk (best sentence first), then the chunks
        # before those that overlap it. chunk_a is the earlier of two holders, chunk_b the later.
        last = [r["chunk_b"] if r["chunk_b"] >= 0 else r["chunk_a"] for r in found if r["chunk_a"] >= 0]
        earlier = [r["chunk_a"] for r in found if r["chunk_b"] >= 0]
        return np.array(last + earlier, dtype=np.int64)

    def chunk_ranges(self, chunk_rows: Sequence[int]) -> np.ndarray:
        found = self._get("chunks", chunk_rows, ["row", "first", "last"])
        return np.array([(r["first"], r["last"]) for r in found], dtype=np.int64).reshape(-1, 2)

    def chunk_articles(self, chunk_rows: Sequence[int]) -> list[str]:
        return self._shown_ids(r["article"] for r in self._get("chunks", chunk_rows, ["row", "article"]))

    def sentence_matrix(self, rows: Sequence[int]) -> np.ndarray:
        found = self._get("sentences", rows, ["row", "vector"])
        return np.array([r["vector"] for r in found], dtype=np.float32).reshape(len(found), self.meta["dim"])

    def idf(self, terms: Sequence[str], collection: str) -> dict[str, float]:
        """As the local backend weighs terms (Lucene's idf), from the document frequencies kept in Milvus."""
        numbers = {t: _name_number(f"{collection}\x1f{t}") for t in terms}
        df = {
            r["number"]: r["df"]
            for r in self.db.get(self.store._name("terms"), ids=list(set(numbers.values())), output_fields=["df"])
        }
        return {t: lucene_idf(df.get(n, 0), self.counts[collection]) for t, n in numbers.items()}

    # -- reading -------------------------------------------------------------------------------------
    def chunks(self, rows: Sequence[int]) -> list[ChunkRow]:
        found = self._get("chunks", rows, ["row", "article", "position", "first", "last", "text"])
        shown = self._shown_ids(r["article"] for r in found)
        return [
            ChunkRow(r["row"], a, r["position"], r["first"], r["last"], r["text"])
            for r, a in zip(found, shown, strict=True)
        ]

    def sentences(self, rows: Sequence[int]) -> list[SentenceRow]:
        found = self._get("sentences", rows, ["row", "article", "position", "start", "end", "text"])
        shown = self._shown_ids(r["article"] for r in found)
        return [_sentence_row(r, a) for r, a in zip(found, shown, strict=True)]

    def article(self, article_id: str) -> ArticleRow:
        (row,) = self._get("articles", [self._number(article_id)], _ARTICLE_FIELDS)
        return _article(row, article_id)

    def articles(self) -> list[ArticleRow]:
        rows = self.store._rows("articles", "", _ARTICLE_FIELDS)
        self._remember(rows)
        return sorted((_article(r, self._shown[r["number"]]) for r in rows), key=lambda a: a.id)

    def article_text(self, article_id: str) -> str:
        parts = self.db.query(
            self.store._name("texts"),
            filter=f"article == {self._number(article_id)}",
            output_fields=["part", "text"],
            limit=PAGE,
        )
        return "".join(p["text"] for p in sorted(parts, key=lambda p: p["part"]))

    def article_sentences(self, article_id: str) -> list[SentenceRow]:
        """An article's sentences are the rows from its number's base, as many as its row says."""
        number = self._number(article_id)
        (row,) = self._get("articles", [number], self._row_fields["articles"])
        base = number << POSITION_BITS
        found = self._get("sentences", range(base, base + row["sentences"]), self._row_fields["sentences"])
        return [_sentence_row(r, article_id) for r in found]

    def copy_groups(self) -> dict[str, str]:
        if self._groups is None:
            rows = self.store._rows("copies", "", ["number", "group"])
            shown = self._shown_ids([r["number"] for r in rows] + [r["group"] for r in rows])
            self._groups = dict(zip(shown[: len(rows)], shown[len(rows) :], strict=True))
        return self._groups

    def describe(self) -> dict:
        location = Path(self.store.uri).expanduser()
        # Milvus Lite keeps its data in the .db folder itself; a server's size is not ours to measure.
        size = sum(p.stat().st_size for p in location.rglob("*") if p.is_file()) if location.is_dir() else 0
        return {"generation": "milvus", **self.built_description(), "size_bytes": size}

    def close(self) -> None:
        return None
