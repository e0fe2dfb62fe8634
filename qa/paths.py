"""Where things live: the bundled seed corpus and the per-corpus index directories."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

INDEX_ENV = "CITEQA_INDEX"


def bundled_seeds() -> Path:
    """The default corpus: package data `qa/seeds` in an installed wheel, or `seeds/` in a source checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "seeds", here.parent / "seeds"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("the bundled seed articles are missing from this installation")


def cache_root() -> Path:
    """The user cache directory for citeqa (platformdirs), e.g. ~/.cache/citeqa on Linux."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("citeqa", appauthor=False))


def default_index_dir(corpus: Path, model_id: str) -> Path:
    """One index per (corpus, model): switching models builds a second index instead of clobbering the first."""
    explicit = os.environ.get(INDEX_ENV)
    if explicit:
        return Path(explicit).expanduser()
    key = hashlib.sha1(f"{corpus.resolve()}\0{model_id}".encode()).hexdigest()[:12]
    slug = "".join(c if c.isalnum() or c in "-_" else "-" for c in corpus.resolve().name)[:40] or "corpus"
    return cache_root() / "indexes" / f"{slug}-{key}"
