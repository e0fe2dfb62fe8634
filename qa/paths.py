"""Where things live: the bundled seed corpus and the per-corpus index directories."""

from __future__ import annotations

import hashlib
from pathlib import Path


def bundled_seeds() -> Path:
    """The default corpus: the `seeds` package beside `qa`, in a source checkout as in an installed wheel."""
    seeds = Path(__file__).resolve().parent.parent / "seeds"
    if (seeds / "questions.jsonl").is_file():
        return seeds
    raise FileNotFoundError("the bundled seed articles are missing from this installation")


def cache_root() -> Path:
    """The user cache directory for citeqa (platformdirs), e.g. ~/.cache/citeqa on Linux."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("citeqa", appauthor=False))


def default_index_dir(corpus: Path, model_id: str, precision: str = "fp32") -> Path:
    """One index per (corpus, model, precision): switching builds a second index instead of clobbering the first.
    (fp32 indexes keep the key they had before precision was a choice.) `--store` and its environment variables
    are the CLI's to read; a library caller passes the location to the Assistant."""
    flavour = f"{corpus.resolve()}\0{model_id}" + ("" if precision == "fp32" else f"\0{precision}")
    key = hashlib.sha1(flavour.encode()).hexdigest()[:12]
    slug = "".join(c if c.isalnum() or c in "-_" else "-" for c in corpus.resolve().name)[:40] or "corpus"
    return cache_root() / "indexes" / f"{slug}-{key}"
