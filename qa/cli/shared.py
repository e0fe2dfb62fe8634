"""What every command shares: the Typer app's options, the Assistant they build, progress and one-line notes."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated

import typer

from qa.errors import UsageError
from qa.present.terminal import printable_line

app = typer.Typer(
    name="citeqa",
    help="Ask questions about a folder of articles; every answer sentence is cited to its source.\n\n"
    "With no corpus given, commands use the bundled seed articles.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

CorpusOpt = Annotated[
    Path | None,
    typer.Option(
        "--corpus", "-c", help="Folder (or file) of articles: .txt, .md, .html/.htm, .pdf. Default: the bundled seeds."
    ),
]
StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        "--index",
        envvar=["CITEQA_STORE", "CITEQA_INDEX"],
        help="Where the index is kept: a folder (default: one per corpus and model in the user cache directory), "
        "a Milvus Lite file NAME.db, or a Milvus server milvus://HOST:PORT (both need: pip install "
        "'citeqa\\[milvus]').",
        show_envvar=True,
    ),
]
ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        help="sentence-transformers model name or path (must be available offline). "
        "Default: the bundled all-MiniLM-L6-v2, or the model the index was built with.",
    ),
]
PrecisionOpt = Annotated[
    str | None,
    typer.Option(
        "--precision",
        help="Encoder weights: fp32, or int8 (about 1.6x faster to index, same answers on our benchmarks; see "
        "docs/models.md). Default: what the index was built with, else fp32. An index is only reused at its precision.",
    ),
]
SinceOpt = Annotated[
    str | None, typer.Option("--since", help="Only articles dated on or after DATE (YYYY-MM-DD, YYYY-MM or YYYY).")
]
UntilOpt = Annotated[str | None, typer.Option("--until", help="Only articles dated on or before DATE.")]
SourceOpt = Annotated[
    list[str] | None,
    typer.Option("--source", help="Only articles from a source (outlet) containing NAME; repeat for several."),
]
ArticleOpt = Annotated[
    list[str] | None,
    typer.Option("--article", help="Only articles whose id matches GLOB (e.g. '2020/*'); repeat for several."),
]
ReaderOpt = Annotated[
    bool,
    typer.Option(
        "--reader/--no-reader",
        help="The trained reader ranks the best sentences and decides whether the articles answer (default); "
        "--no-reader answers with the feature model alone, as citeqa did before it.",
    ),
]
FollowLinksOpt = Annotated[
    bool,
    typer.Option(
        "--follow-links",
        envvar="CITEQA_FOLLOW_LINKS",
        help="Also index what links in the corpus lead to outside it (skipped by default, with a warning: a link "
        "to a private file must not end up cited). Give it on every command that updates the index.",
        show_envvar=True,
    ),
]
QuietOpt = Annotated[
    bool, typer.Option("--quiet", "-q", help="No progress bars, no indexing notes, no warnings about skipped files.")
]


def make_assistant(
    corpus: Path | None,
    store: str | None,
    model: str | None,
    precision: str | None,
    mode: str = "hybrid",
    k: int = 5,
    reader: bool = True,
    follow_links: bool = False,
):
    from qa.pipeline import Assistant
    from qa.settings import Settings

    if precision not in (None, "fp32", "int8"):
        raise UsageError(f"unknown precision '{precision}'; choose fp32 or int8")
    settings = Settings(mode=mode, k=k, reader=reader)
    return Assistant(
        corpus=corpus, index_dir=store, model=model, settings=settings, precision=precision, follow_links=follow_links
    )


def ready(assistant, quiet: bool):
    """Build or refresh the index when needed, with progress bars on stderr."""
    from qa.present.progress import progress_bars

    silence_skips(quiet)
    with progress_bars(not quiet) as progress:
        report = assistant.ensure_index(progress)
    report_indexing(assistant, report, quiet)
    return assistant


def silence_skips(quiet: bool) -> None:
    """-q: files skipped while indexing are not reported (they are still listed in the manifest)."""
    if quiet:
        from qa.ingest.corpus import SkippedFile

        warnings.simplefilter("ignore", SkippedFile)


def report_indexing(assistant, report, quiet: bool) -> None:
    if report is not None and not report.up_to_date and not quiet:
        note(
            f"indexed {len(report.added) + len(report.changed)} article(s) in {report.seconds:.1f} s "
            f"into {assistant.store.location}"
        )


def note(message: str) -> None:
    """One line on stderr; file names and article text in it are shown with control characters visible."""
    typer.echo(f"citeqa: {printable_line(message)}", err=True)


def os_error_line(exc: OSError) -> str:
    import errno

    where = f": {exc.filename}" if exc.filename else ""
    if exc.errno == errno.ENOSPC:
        return f"the disk is full{where}; nothing was changed, the previous index still answers"
    return f"{exc.strerror or exc}{where}"
