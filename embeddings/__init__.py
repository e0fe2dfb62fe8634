"""Embedding backends. `load_embedder(name)` is the one entry point; nothing heavy is imported until used."""

from embeddings.base import DEFAULT_MODEL, Embedder, load_embedder, model_id_for

__all__ = ["DEFAULT_MODEL", "Embedder", "load_embedder", "model_id_for"]
