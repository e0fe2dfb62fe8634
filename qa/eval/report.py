"""Tables of eval results: plain text for the terminal, Markdown for READMEs and CI summaries."""

from __future__ import annotations

from qa.eval.evaluate import EvalRun
from qa.present.terminal import printable_line
from qa.text.questions import KINDS

_ORDER = ("recall@", "mrr@10", "ndcg@10", "hit@1", "hit@3", "span_", "abstain_", "embed_", "search_", "answer_")


def _columns(run: EvalRun) -> list[str]:
    names = list(dict.fromkeys(name for s in run.summaries for name in s.metrics))
    return sorted(names, key=lambda n: next(i for i, prefix in enumerate(_ORDER) if n.startswith(prefix)))


def _rows(run: EvalRun) -> list[list[str]]:
    columns = _columns(run)
    rows = [["mode", "questions", *columns]]
    for summary in run.summaries:
        cells = [summary.mode, str(summary.questions)]
        for name in columns:
            value = summary.metrics.get(name)
            cells.append("" if value is None else (f"{value:.1f}" if name.endswith("_ms") else f"{value:.3f}"))
        rows.append(cells)
    return rows


def _kind_rows(run: EvalRun) -> list[list[str]]:
    """hit@1 per question kind and mode: "hit@1 (questions)"."""
    kinds = [k for k in KINDS if any(k in s.by_kind for s in run.summaries)]
    rows = [["kind", *(s.mode for s in run.summaries)]]
    for kind in kinds:
        cells = [kind]
        for summary in run.summaries:
            count, hit = summary.by_kind.get(kind, (0, 0.0))
            cells.append(f"{hit:.3f} ({count})" if count else "")
        rows.append(cells)
    return rows if kinds else []


def _aligned(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]


def _markdown(rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    return lines + ["| " + " | ".join(row) + " |" for row in rows[1:]]


def text_table(run: EvalRun) -> str:
    lines = [f"{printable_line(run.dataset)} ({run.format}), model {run.model}", *_aligned(_rows(run))]
    kinds = _kind_rows(run)
    if kinds:
        lines += ["", "hit@1 by question kind (questions)", *_aligned(kinds)]
    return "\n".join(lines)


def markdown_table(run: EvalRun) -> str:
    lines = [f"**{printable_line(run.dataset)}** ({run.format}), model `{run.model}`", "", *_markdown(_rows(run))]
    kinds = _kind_rows(run)
    if kinds:
        lines += ["", "hit@1 by question kind (questions):", "", *_markdown(kinds)]
    return "\n".join(lines) + "\n"
