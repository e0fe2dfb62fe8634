"""Tables of eval results: plain text for the terminal, Markdown for READMEs and CI summaries."""

from __future__ import annotations

from qa.evaluate import EvalRun

_ORDER = ("recall@", "mrr@10", "ndcg@10", "hit@1", "hit@3", "abstain_", "embed_", "search_", "answer_")


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


def text_table(run: EvalRun) -> str:
    rows = _rows(run)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [f"{run.dataset} ({run.format}), model {run.model}"]
    for row in rows:
        lines.append("  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)))
    return "\n".join(lines)


def markdown_table(run: EvalRun) -> str:
    rows = _rows(run)
    lines = [f"**{run.dataset}** ({run.format}), model `{run.model}`", ""]
    lines.append("| " + " | ".join(rows[0]) + " |")
    lines.append("|" + "---|" * len(rows[0]))
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    return "\n".join(lines) + "\n"
