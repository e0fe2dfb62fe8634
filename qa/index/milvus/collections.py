"""What the Milvus store's writer and reader share: the connection, the collections' names and layout, and how
rows map to the seam's records. Row numbers are integers only, so no file name or article text ever reaches a
filter expression: an article's number is a hash of its corpus and id, and its sentence (and chunk) rows are
that number shifted left by `POSITION_BITS` plus the position, consecutive within the article as the seam requires.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from qa.errors import CiteqaError, IndexUnusableError, first_line
from qa.index.seam import ArticleRow, SentenceRow

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


# The articles collection's columns besides its number; the rest of a row is the text, kept in parts.
ARTICLE_TEXT = (
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
ARTICLE_NUMBERS = ("size", "mtime_ns", "shingles", "sentences", "chunks")
ARTICLE_FIELDS = ["number", *ARTICLE_TEXT[1:-1], "size", "mtime_ns"]  # what an ArticleRow is made of

# What a reader fetches of a row, all at once (not the BM25 terms and sparse vector, nor fingerprints).
ROW_FIELDS = {
    "sentences": ["row", "article", "position", "start", "end", "text", "chunk_a", "chunk_b", "vector", "terms"],
    "chunks": ["row", "article", "position", "first", "last", "text", "terms"],
    "articles": [*ARTICLE_FIELDS, "sentences", "chunks"],
}


class Guarded:
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


def connect(uri: str) -> Guarded:
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
    guarded = Guarded(client, uri)
    for name in guarded.list_collections():
        if name.startswith(PREFIX):
            guarded.load_collection(name)
    return guarded


def hash64(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big")


def article_number(key: str, probe: int = 0) -> int:
    return ((hash64(key) >> (64 - ARTICLE_BITS)) + probe) % (1 << ARTICLE_BITS) + 1


def name_number(key: str) -> int:
    """The primary key of a named row (a term's document frequency, a meta entry): 63 bits of its hash."""
    return hash64(key) >> 1


def corpus_key(corpus: str, article_id: str) -> str:
    return f"{corpus}\x1f{article_id}"


def ints(values: Iterable[int]) -> str:
    return "[" + ",".join(str(int(v)) for v in values) + "]"


class Collections:
    """citeqa's collections in one Milvus (a server or a Milvus Lite file), connected on first use."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self._db = None

    @property
    def location(self) -> str:
        return self.uri

    @property
    def db(self):
        if self._db is None:
            self._db = connect(self.uri)
        return self._db

    def close(self) -> None:
        """Let go of the connection (Milvus Lite: of the .db file, which one process at a time may hold)."""
        if self._db is not None:
            self._db.close()
            self._db = None

    def name(self, collection: str) -> str:
        return PREFIX + collection

    def exists(self) -> bool:
        return self.meta("index") is not None

    def meta(self, key: str) -> dict | None:
        if not self.db.has_collection(self.name("meta")):
            return None
        rows = self.db.query(self.name("meta"), filter=f"number == {name_number(key)}", output_fields=["value"])
        return json.loads(rows[0]["value"]) if rows else None

    def set_meta(self, key: str, value: dict) -> None:
        self.db.upsert(
            self.name("meta"), [{"number": name_number(key), "value": json.dumps(value), "dummy": [0.0, 0.0]}]
        )

    def delete_meta(self, key: str) -> None:
        self.db.delete(self.name("meta"), filter=f"number == {name_number(key)}")

    def rows(self, collection: str, expression: str, fields: list[str]) -> list[dict]:
        """Every row matching `expression`, page by page."""
        name = self.name(collection)
        if not expression:
            iterator = self.db.query_iterator(name, batch_size=PAGE // 4, output_fields=fields)
        else:
            iterator = self.db.query_iterator(name, batch_size=PAGE // 4, filter=expression, output_fields=fields)
        found = []
        while batch := iterator.next():
            found += batch
        iterator.close()
        return found


def article_of(row: dict, shown_id: str | None = None) -> ArticleRow:
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


def sentence_of(row: dict, article_id: str) -> SentenceRow:
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


def term_counts(collection: str, rows: Iterable[dict]) -> Counter[str]:
    """How many of the rows (sentences or chunks) hold each term, their share of its document frequency, and
    how many terms they hold in all (for BM25's average length)."""
    rows = list(rows)
    counts = Counter(f"{collection}\x1f{t}" for row in rows for t in set(row["terms"].split()) - {"_"})
    counts[length_key(collection)] = sum(len([t for t in r["terms"].split() if t != "_"]) for r in rows)
    return counts


def length_key(collection: str) -> str:
    """The name under which the total number of terms of a collection's rows is kept with the frequencies."""
    return f"{collection}\x1e"
