"""The Milvus store opened for answering (an `IndexReader`): every call is a query to Milvus."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from qa.errors import IndexUnusableError
from qa.index.milvus.collections import (
    ARTICLE_FIELDS,
    PAGE,
    POSITION_BITS,
    ROW_FIELDS,
    Collections,
    article_of,
    ints,
    length_key,
    name_number,
    sentence_of,
)
from qa.index.seam import ArticleRow, ChunkRow, Scope, SentenceRow, StoredIndexReader
from qa.ingest.corpus import stored_path
from qa.text.lexical import BM25_B, BM25_K1, lucene_idf

REMEMBERED_ROWS = 50_000
# BM25 candidates asked of Milvus, to be scored with the store's own statistics: this many times those wanted.
CANDIDATE_FACTOR = 4
MIN_CANDIDATES = 200


class MilvusReader(StoredIndexReader):
    """The Milvus store opened for answering (an `IndexReader`): every call is a query to Milvus."""

    def __init__(self, store: Collections, meta: dict) -> None:
        self.store = store
        self.db = store.db
        self.meta = self.built = meta
        # a store of schema 1 keeps no folded terms or typed expressions: the answer step finds them per question
        kept = ["folded", "mentions"] if meta.get("schema", 1) >= 2 else []
        self._row_fields = {**ROW_FIELDS, "sentences": [*ROW_FIELDS["sentences"], *kept]}
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
                name: self.db.query(self.store.name(name), filter="", output_fields=["count(*)"])[0]["count(*)"]
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
            self._remember(self.db.get(self.store.name("articles"), ids=missing, output_fields=["corpus", "id"]))
        return [self._shown[n] for n in numbers]

    def _number(self, article_id: str) -> int:
        if article_id not in self._numbers:
            self._remember(self.store.rows("articles", "", ["number", "corpus", "id"]))
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
            for row in self.db.get(self.store.name(collection), ids=batch, output_fields=fields):
                found[row["row"] if "row" in row else row["number"]] = row
        return [found[i] for i in ids]

    # -- searching -----------------------------------------------------------------------------------
    def scope(self, article_ids: Sequence[str]) -> Scope:
        numbers = [self._number(a) for a in article_ids]
        chunks = sum(r["chunks"] for r in self._get("articles", numbers, ["number", "chunks"]))
        return Scope(frozenset(article_ids), chunks, f"article in {ints(numbers)}")

    def _search(self, collection: str, data, field: str, n: int, expression: str) -> list[dict]:
        if n <= 0:
            return []
        hits = self.db.search(
            self.store.name(collection),
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
            key = name_number(length_key(collection))
            kept = self.db.get(self.store.name("terms"), ids=[key], output_fields=["df"])
            if kept:
                total = kept[0]["df"]
            else:
                rows = self.store.rows(collection, "", ["terms"])
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
        numbers = {t: name_number(f"{collection}\x1f{t}") for t in terms}
        df = {
            r["number"]: r["df"]
            for r in self.db.get(self.store.name("terms"), ids=list(set(numbers.values())), output_fields=["df"])
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
        return [sentence_of(r, a) for r, a in zip(found, shown, strict=True)]

    def article(self, article_id: str) -> ArticleRow:
        (row,) = self._get("articles", [self._number(article_id)], ARTICLE_FIELDS)
        return article_of(row, article_id)

    def articles(self) -> list[ArticleRow]:
        rows = self.store.rows("articles", "", ARTICLE_FIELDS)
        self._remember(rows)
        return sorted((article_of(r, self._shown[r["number"]]) for r in rows), key=lambda a: a.id)

    def article_text(self, article_id: str) -> str:
        parts = self.db.query(
            self.store.name("texts"),
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
        return [sentence_of(r, article_id) for r in found]

    def copy_groups(self) -> dict[str, str]:
        if self._groups is None:
            rows = self.store.rows("copies", "", ["number", "group"])
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
