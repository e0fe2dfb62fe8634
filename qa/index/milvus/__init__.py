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

`collections` holds what both sides share (the connection, the layout, how rows are numbered), `store` writes
and `reader` answers.

One store holds many corpora: several citeqa processes, on different machines, may index different folders
into one Milvus and all answer from all of them. An update touches only its own corpus's articles.
Articles of the asking corpus keep their plain ids; those of other corpora are named `folder:id`.
"""

from qa.index.milvus.store import MilvusStore

__all__ = ["MilvusStore"]
