"""The Embedder interface and the choice of backend for a model name."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
ProgressFn = Callable[[int], None]


class Embedder(Protocol):
    """Anything that turns texts into L2-normalised float32 rows; `model_id` names it stably in manifests."""

    model_id: str

    @property
    def dim(self) -> int: ...

    @property
    def max_tokens(self) -> int: ...

    def encode(self, texts: Sequence[str], progress: ProgressFn | None = None) -> np.ndarray: ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...


def model_id_for(name: str | None) -> str:
    """A stable id: the default model keeps its hub name wherever the package installed it; a local
    directory is identified by its absolute path; any other name is used as given."""
    if name is None or name == DEFAULT_MODEL or name == "all-MiniLM-L6-v2":
        return DEFAULT_MODEL
    path = Path(name).expanduser()
    return str(path.resolve()) if path.exists() else name


def load_embedder(name: str | None = None) -> Embedder:
    """The sentence-transformers backend for `name` (default: the bundled all-MiniLM-L6-v2), loaded lazily."""
    from embeddings.sentence_transformer import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(model_id_for(name))
