"""What `ask` returns: the answer text, its citations, the exact answer span, and the passages behind it.

The sentences are chosen in qa/answer/choose.py, the span in qa/answer/span.py, the text composed in
qa/answer/timeline.py and the citations built by the Assistant (qa/pipeline.py); this module only holds the result that
the CLI, the chat UI, export and eval read."""

from __future__ import annotations

from dataclasses import dataclass, field

from qa.retrieve.retriever import Passage

NOT_ANSWERED = "The indexed articles do not say."


@dataclass(frozen=True)
class Citation:
    """One cited sentence: `[n]` in the answer text points here."""

    n: int
    article_id: str
    title: str
    date: str | None
    path: str
    line: int
    sentence: str
    start: int
    end: int
    score: float
    source: str | None = None
    author: str | None = None
    url: str | None = None
    page: int | None = None
    also_in: tuple[str, ...] = ()  # the paths of other copies of the same story (qa.ingest.duplicates)
    reader: float | None = None  # the reader's calibrated probability that the sentence answers (qa.reader)


@dataclass(frozen=True)
class AnswerSpan:
    """The exact answer inside citation `n`: `article_text[start:end] == text`."""

    n: int
    type: str
    text: str
    start: int
    end: int


@dataclass
class Answer:
    """The composed text, its citations, the exact answer, notes (resolved relative dates), the passages
    behind it, and timings in ms."""

    question: str
    text: str
    citations: list[Citation]
    passages: list[Passage]
    timings: dict[str, float] = field(default_factory=dict)
    mode: str = "hybrid"
    span: AnswerSpan | None = None
    kind: str = "other"
    notes: list[str] = field(default_factory=list)

    @property
    def answered(self) -> bool:
        return bool(self.citations)
