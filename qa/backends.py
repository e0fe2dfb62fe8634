"""The factory of index stores: the one place that knows which backends exist (see `qa.storage`)."""

from __future__ import annotations

from pathlib import Path

from qa.storage import IndexStore

MILVUS_SCHEMES = ("milvus://",)


def open_store(location: str | Path, follow_links: bool = False) -> IndexStore:
    """The store for a location: `milvus://HOST:PORT` (a Milvus server) or a `.db` file (Milvus Lite) is the
    Milvus backend (`qa.milvus`); anything else is a local index folder (generations of segments: SQLite,
    vectors, BM25 term counts; `qa.index`)."""
    text = str(location)
    if text.startswith(MILVUS_SCHEMES) or text.endswith(".db"):
        from qa.milvus import MilvusStore

        return MilvusStore(text, follow_links=follow_links)
    from qa.index import IndexDir

    return IndexDir(Path(text).expanduser(), follow_links=follow_links)
