"""What the chat's questions are asked with, as one frozen value: replaced whole, never changed in place."""

from __future__ import annotations

from dataclasses import dataclass, replace

from qa.retrieve.filters import Filter
from qa.retrieve.retriever import MODES


@dataclass(frozen=True)
class ChatScope:
    """The retrieval mode and the article filter (None: every article) of the questions that follow."""

    mode: str
    only: Filter | None = None

    def with_mode(self, mode: str) -> ChatScope:
        return replace(self, mode=mode)

    def next_mode(self) -> ChatScope:
        return self.with_mode(MODES[(MODES.index(self.mode) + 1) % len(MODES)])

    def with_filter(self, only: Filter | None) -> ChatScope:
        return replace(self, only=only if only is not None and only.active else None)

    @property
    def chips(self) -> str:
        """The filter as the status line shows it ("since:2020-01 source:bbc"), "" for none."""
        return " ".join(self.only.chips()) if self.only else ""
