"""`citeqa eval`: retrieval and answer metrics on a dataset, with thresholds that fail a run."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from qa.cli.shared import (
    ArticleOpt,
    CorpusOpt,
    ModelOpt,
    PrecisionOpt,
    QuietOpt,
    ReaderOpt,
    SinceOpt,
    SourceOpt,
    StoreOpt,
    UntilOpt,
    note,
    report_indexing,
    silence_skips,
)
from qa.errors import CiteqaError, UsageError
from qa.present.terminal import printable


def _parse_ks(text: str) -> list[int]:
    try:
        ks = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise UsageError(f"--k takes numbers separated by commas, e.g. 1,3,5,10 (got '{text}')") from None
    if not ks or ks[0] < 1:
        raise UsageError("--k values must be positive")
    return ks


def _parse_thresholds(items: list[str], known: list[str]) -> dict[str, float]:
    """METRIC=VALUE pairs, names checked against the metrics the run will report before anything runs."""
    thresholds = {}
    for item in items:
        name, _, value = item.partition("=")
        try:
            thresholds[name.strip()] = float(value)
        except ValueError:
            raise UsageError(f"--fail-under takes METRIC=VALUE, e.g. hit@1=0.8 (got '{item}')") from None
        if name.strip() not in known:
            raise UsageError(f"--fail-under: no metric '{name.strip()}' (have {', '.join(known)})")
    return thresholds


def evaluate(
    dataset: Annotated[Path, typer.Argument(help="citeqa .jsonl questions, SQuAD v1.1 .json, or a BEIR folder.")],
    corpus: CorpusOpt = None,
    store: StoreOpt = None,
    model: ModelOpt = None,
    precision: PrecisionOpt = None,
    mode: Annotated[str, typer.Option("--mode", help="dense, bm25, hybrid, or all (side by side).")] = "hybrid",
    k: Annotated[str, typer.Option("--k", help="Cut-offs for Recall@k, comma-separated.")] = "1,3,5,10",
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write summary and per-question results here.")
    ] = None,
    report: Annotated[Path | None, typer.Option("--report", help="Write the table as Markdown here.")] = None,
    fail_under: Annotated[
        list[str] | None, typer.Option("--fail-under", help="METRIC=VALUE; exit 1 when a metric is lower.")
    ] = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    source: SourceOpt = None,
    article: ArticleOpt = None,
    reader: ReaderOpt = True,
    quiet: QuietOpt = False,
) -> None:
    """Measure retrieval (Recall@k, MRR@10, nDCG@10) and answers (hit@1, hit@3, abstention) on a dataset."""
    from qa.eval.datasets import load_dataset
    from qa.eval.evaluate import assistant_for, metric_names, run_eval
    from qa.eval.report import markdown_table, text_table
    from qa.present.progress import progress_bars
    from qa.retrieve.filters import make_filter
    from qa.retrieve.retriever import MODES

    modes = list(MODES) if mode == "all" else [mode]
    if not set(modes) <= set(MODES):
        raise UsageError(f"unknown mode '{mode}'; choose from {', '.join(MODES)} or all")
    ks = _parse_ks(k)
    thresholds = _parse_thresholds(fail_under or [], metric_names(ks))
    only = make_filter(since, until, source or (), article or ())
    silence_skips(quiet)
    loaded = load_dataset(dataset)
    if corpus is not None and loaded.documents is not None:
        raise UsageError(f"{loaded.format} datasets bring their own corpus; --corpus is for .jsonl question files")
    unmeasured = set(thresholds) - set(metric_names(ks, loaded.questions))
    if unmeasured:
        raise UsageError(f"--fail-under: {dataset.name} cannot measure {', '.join(sorted(unmeasured))}")
    from qa.settings import Settings

    assistant = assistant_for(loaded, corpus, store, model, Settings(reader=reader), precision)
    with progress_bars(not quiet) as progress:
        report_indexing(assistant, assistant.ensure_index(progress), quiet)
        started = time.perf_counter()
        run = run_eval(loaded, assistant, modes, ks, progress, only)
    note(
        f"evaluated {len(loaded.questions)} question(s) x {len(run.summaries)} mode(s) in "
        f"{time.perf_counter() - started:.1f} s"
    )
    typer.echo(printable(text_table(run)))
    if json_out:
        json_out.write_text(json.dumps(run.to_dict(), indent=2, ensure_ascii=False))
    if report:
        report.write_text(markdown_table(run))
    if run.interrupted:
        raise CiteqaError("interrupted: the table covers the questions answered so far")
    failures = _check_thresholds(run, thresholds)
    if failures:
        raise CiteqaError("; ".join(failures))


def _check_thresholds(run, thresholds: dict[str, float]) -> list[str]:
    failures = []
    for summary in run.summaries:
        for name, minimum in thresholds.items():
            if summary.metrics[name] < minimum:
                failures.append(f"{summary.mode} {name} = {summary.metrics[name]:.3f} is under {minimum}")
    return failures
