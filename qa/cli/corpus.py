"""The index's commands: `index` (with `--watch` and `--check`) and `info`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from qa.cli.shared import (
    CorpusOpt,
    FollowLinksOpt,
    ModelOpt,
    PrecisionOpt,
    QuietOpt,
    StoreOpt,
    make_assistant,
    note,
    os_error_line,
    silence_skips,
)
from qa.errors import CiteqaError
from qa.present.terminal import json_text, printable_line


def index(
    corpus: Annotated[Path | None, typer.Argument(help="Folder of articles. Default: the bundled seeds.")] = None,
    store: StoreOpt = None,
    model: ModelOpt = None,
    precision: PrecisionOpt = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Re-embed everything, replacing the index.")] = False,
    check: Annotated[
        bool,
        typer.Option("--check", help="Verify every index file against its checksum instead of indexing."),
    ] = False,
    watch: Annotated[
        bool,
        typer.Option("--watch", help="After indexing, keep the index in step with the folder until Ctrl+C."),
    ] = False,
    follow_links: FollowLinksOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Index a folder of articles (incremental: only new or changed articles are embedded)."""
    from qa.present.progress import progress_bars

    assistant = make_assistant(corpus, store, model, precision, follow_links=follow_links)
    if check:
        started = time.perf_counter()
        counts = assistant.store.check()
        typer.echo(
            f"Index OK: {counts['articles']} article(s), {counts['chunks']} chunks, {counts['sentences']} sentences; "
            f"every file matches its checksum ({time.perf_counter() - started:.2f} s)."
        )
        return
    silence_skips(quiet)
    with progress_bars(not quiet) as progress:
        report = assistant.update_index(progress, rebuild=rebuild)
    if report.up_to_date:
        typer.echo(f"Index up to date: {report.unchanged} article(s), nothing to embed ({report.seconds:.2f} s).")
    else:
        typer.echo(
            f"Indexed {len(report.added)} new, {len(report.changed)} changed, {len(report.removed)} removed, "
            f"{report.unchanged} unchanged article(s); embedded {report.embedded} texts in {report.seconds:.1f} s."
        )
    typer.echo(f"Index: {printable_line(assistant.store.location)}")
    if watch:
        _watch(assistant, quiet)


def _watch(assistant, quiet: bool) -> None:
    """Apply each burst of file changes as one update (an emptied folder empties the index: nothing deleted is
    cited); an update that fails (a busy index, a full disk) is reported and retried at the next change."""
    from qa.present.progress import progress_bars

    def refresh() -> None:
        try:
            with progress_bars(not quiet) as progress:
                report = assistant.update_index(progress)
        except (CiteqaError, OSError) as exc:
            note(f"warning: {exc if isinstance(exc, CiteqaError) else os_error_line(exc)}; still watching")
            return
        if not report.up_to_date:
            typer.echo(
                f"{time.strftime('%H:%M:%S')} updated: {len(report.added)} new, {len(report.changed)} changed, "
                f"{len(report.removed)} removed ({report.seconds:.1f} s)"
            )

    def listening() -> None:
        typer.echo(f"Watching {printable_line(str(assistant.corpus))} for changes; Ctrl+C stops.")

    try:
        assistant.watch(refresh, on_ready=listening)
    except KeyboardInterrupt:  # Ctrl+C during an update: its write is atomic, so abandoning it loses nothing
        typer.echo("Stopped watching; the update under way was abandoned, the index is as it was before it.")
        return
    typer.echo("Stopped watching.")


def info(
    corpus: CorpusOpt = None,
    store: StoreOpt = None,
    model: ModelOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
    articles: Annotated[
        bool, typer.Option("--articles", help="List the indexed articles: id, date, source, author, title.")
    ] = False,
) -> None:
    """Show what is indexed: articles, chunks, sentences, model, index path and size."""
    assistant = make_assistant(corpus, store, model, None)
    if not assistant.store.exists():
        raise CiteqaError(f"no index yet for {assistant.corpus}; build it with `citeqa index` or just ask")
    if articles:
        _list_articles(assistant.index.articles(), as_json)
        return
    details = assistant.info()
    if as_json:
        typer.echo(json_text(details))
        return
    for label, key in (
        ("Corpus", "corpus"),
        ("Index", "index"),
        ("Model", "model"),
        ("Precision", "precision"),
        ("Articles", "articles"),
        ("Chunks", "chunks"),
        ("Sentences", "sentences"),
        ("Copies", "copies"),
        ("Built", "created"),
    ):
        typer.echo(f"{label + ':':<11}{printable_line(str(details[key]))}")
    if "vectors" in details:
        typer.echo(f"{'Search:':<11}{_describe_vectors(details['vectors'])}")
    if "segments" in details:
        typer.echo(f"{'Segments:':<11}{details['segments']}")
    typer.echo(f"{'Size:':<11}{details['size_bytes'] / 1024:,.0f} KiB")


def _describe_vectors(layout: dict) -> str:
    removed = f", {layout['tombstones']:,} removed sentences skipped until a merge" if layout["tombstones"] else ""
    if layout["kind"] == "flat":
        return f"exact{removed}"
    return f"HNSW graph of {layout['graph']:,} vectors, {layout['exact']:,} added since (searched exactly){removed}"


def _list_articles(rows, as_json: bool) -> None:
    fields = ("id", "date", "source", "author", "title", "url", "path")
    if as_json:
        typer.echo(json_text([{name: getattr(row, name) for name in fields} for row in rows]))
        return
    typer.echo(f"{'id':<28} {'date':<10}  {'source':<18} title")
    for row in rows:
        source = (row.source or "")[:18]
        typer.echo(printable_line(f"{row.id[:28]:<28} {row.date or '':<10}  {source:<18} {row.title}"))
