"""How the Assistant retrieves and answers, as one frozen object: chosen once, validated once, passed in."""

from __future__ import annotations

from dataclasses import dataclass

from qa.errors import UsageError
from qa.retrieve.retriever import DENSE_WEIGHT, FUSIONS, MODES, Mode

DEFAULT_K = 5
# Answers are drawn from the best few passages whatever k is: more passages only add weaker candidates.
ANSWER_PASSAGES = 5
# Questions `citeqa serve` answers at once (no more than the cores): on two cores two workers, each reading on one,
# answered 17 questions a second to one worker's 12, with a shorter tail (bench/serve_load.py, docs/serve.md).
SERVE_WORKERS = 2


def validate_mode(mode: str) -> Mode:
    if mode not in MODES:
        raise UsageError(f"unknown mode '{mode}'; choose from {', '.join(MODES)}")
    return mode


@dataclass(frozen=True)
class Settings:
    """Retrieval mode, fusion and its dense weight, passages returned (k), passages the answer reads, whether the
    reader reads them, and with how many threads."""

    mode: Mode = "hybrid"
    fusion: str = "convex"
    dense_weight: float = DENSE_WEIGHT
    k: int = DEFAULT_K
    answer_passages: int = ANSWER_PASSAGES
    reader: bool = True  # the trained reader ranks the best sentences and decides whether to answer (qa.reader)
    # Threads one reading of the reader takes (None: one per core). A server answering several questions at once
    # gives each answering worker its share of the cores instead (qa.serve.service).
    threads: int | None = None

    def __post_init__(self) -> None:
        validate_mode(self.mode)
        if self.fusion not in FUSIONS:
            raise UsageError(f"unknown fusion '{self.fusion}'; choose from {', '.join(FUSIONS)}")
        if not 0.0 <= self.dense_weight <= 1.0:
            raise UsageError(f"the dense weight must be between 0 and 1 (got {self.dense_weight})")
        if self.k < 1 or self.answer_passages < 1:
            raise UsageError("k and the answer's passages must be at least 1")
        if self.threads is not None and self.threads < 1:
            raise UsageError(f"a model run needs at least one thread (got {self.threads})")


DEFAULT_SETTINGS = Settings()
