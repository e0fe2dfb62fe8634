"""Answers as text for a terminal and as the stable JSON schema of `citeqa ask --json`.

Article text is untrusted: every piece of it in the text form goes through `qa.present.terminal.printable`, and every
name (title, path, article id) through `printable_line`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING

from qa.answer.result import Answer
from qa.present.terminal import printable, printable_line

if TYPE_CHECKING:
    from qa.retrieve.retriever import Passage

JSON_SCHEMA = "citeqa.answer/1"


def answer_to_dict(answer: Answer) -> dict:
    """The `--json` document; keys are only ever added, never renamed (see docs/cli.md, "JSON output")."""
    return {
        "schema": JSON_SCHEMA,
        "question": answer.question,
        "answer": answer.text,
        "answered": answer.answered,
        "mode": answer.mode,
        "kind": answer.kind,
        "answer_span": asdict(answer.span) if answer.span else None,
        "notes": answer.notes,
        "citations": [asdict(c) for c in answer.citations],
        "passages": passage_dicts(answer.passages),
        "timings": answer.timings,
    }


def passage_dicts(passages: Sequence[Passage]) -> list[dict]:
    """Retrieved passages as the `--json` document lists them."""
    return [
        {
            "rank": rank,
            "article_id": p.chunk.article_id,
            "chunk": p.chunk.position,
            "score": round(p.score, 4),
            "dense": None if p.dense is None else round(p.dense, 4),
            "bm25": None if p.bm25 is None else round(p.bm25, 4),
            "text": p.chunk.text,
        }
        for rank, p in enumerate(passages, 1)
    ]


def lead_line(answer: Answer, emphasis: tuple[str, str] = ("", ""), show: Callable[[str], str] = str) -> str:
    """The answer as it reads first: the exact answer (wrapped in `emphasis`), a dash, then the cited sentences
    ("30% — The group…"); `show` is applied to the article text, not to the emphasis."""
    if not answer.span:
        return show(answer.text)
    return f"{emphasis[0]}{show(' '.join(answer.span.text.split()))}{emphasis[1]} — {show(answer.text)}"


def answer_to_text(answer: Answer, emphasis: tuple[str, str] = ("", "")) -> str:
    """The answer paragraph, notes, then one source entry per citation: title, date, file and place, sentence.
    `emphasis` wraps the exact answer (a terminal passes bold on/off)."""
    lines = [lead_line(answer, emphasis, printable)]
    lines += [f"Note: {printable_line(note)}" for note in answer.notes]
    if answer.citations:
        lines.append("")
        for c in answer.citations:
            about = ", ".join(part for part in (c.source, c.date) if part)
            lines.append(f"[{c.n}] {printable_line(c.title)}" + (f" ({printable_line(about)})" if about else ""))
            place = f"page {c.page}" if c.page else f"line {c.line}, characters {c.start}–{c.end}"
            lines.append(f"    {printable_line(c.path)}, {place}")
            lines.append(f"    “{printable(' '.join(c.sentence.split()))}”")
            if c.also_in:
                lines.append(f"    also in: {printable_line(', '.join(c.also_in))}")
    return "\n".join(lines)
