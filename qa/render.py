"""Answers as text for a terminal and as the stable JSON schema of `citeqa ask --json`."""

from __future__ import annotations

from dataclasses import asdict

from qa.answer import Answer

JSON_SCHEMA = "citeqa.answer/1"


def answer_to_dict(answer: Answer) -> dict:
    """The `--json` document; keys are only ever added, never renamed (see README, "JSON output")."""
    return {
        "schema": JSON_SCHEMA,
        "question": answer.question,
        "answer": answer.text,
        "answered": answer.answered,
        "mode": answer.mode,
        "citations": [asdict(c) for c in answer.citations],
        "passages": [
            {
                "rank": rank,
                "article_id": p.chunk.article_id,
                "chunk": p.chunk.position,
                "score": round(p.score, 4),
                "dense": None if p.dense is None else round(p.dense, 4),
                "bm25": None if p.bm25 is None else round(p.bm25, 4),
                "text": p.chunk.text,
            }
            for rank, p in enumerate(answer.passages, 1)
        ],
        "timings": answer.timings,
    }


def answer_to_text(answer: Answer) -> str:
    """The answer paragraph, then one source entry per citation: title, date, file and place, sentence."""
    lines = [answer.text]
    if answer.citations:
        lines.append("")
        for c in answer.citations:
            dated = f" ({c.date})" if c.date else ""
            lines.append(f"[{c.n}] {c.title}{dated}")
            lines.append(f"    {c.path}, line {c.line}, characters {c.start}–{c.end}")
            lines.append(f"    “{' '.join(c.sentence.split())}”")
    return "\n".join(lines)
