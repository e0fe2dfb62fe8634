"""The storage seam and its backends. `open_store` here is the factory, the one place that names the backends;
`seam` holds the protocols and row types, `update` what every backend's update plans, reads, embeds and prepares;
`local/` and `milvus` only store."""

from __future__ import annotations

from pathlib import Path

from qa.index.seam import IndexStore

MILVUS_SCHEMES = ("milvus://",)


def open_store(location: str | Path, follow_links: bool = False) -> IndexStore:
    """The store for a location: `milvus://HOST:PORT` (a Milvus server) or a `.db` file (Milvus Lite) is the
    Milvus backend (`qa.index.milvus`); anything else is a local index folder (generations of segments: SQLite,
    vectors, BM25 term counts; `qa.index.local.store`)."""
    text = str(location)
    if text.startswith(MILVUS_SCHEMES) or text.endswith(".db"):
        from qa.index.milvus import MilvusStore

        return MilvusStore(text, follow_links=follow_links)
    from qa.index.local.store import IndexDir

    return IndexDir(Path(text).expanduser(), follow_links=follow_links)
