"""The `citeqa` command line: index, ask, info, eval and chat.

Heavy libraries are imported inside the commands that need them: `citeqa --help` or `citeqa info` never
pays for torch, and `ask` pays only when it must embed the question.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path
from typing import Annotated

import typer

from qa.errors import CiteqaError, UsageError

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
    typer.Option("--corpus", "-c", help="Folder (or file) of .txt/.md articles. Default: the bundled seeds."),
]
IndexOpt = Annotated[
    Path | None,
    typer.Option(
        "--index",
        envvar="CITEQA_INDEX",
        help="Index directory. Default: one per corpus and model in the user cache directory.",
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
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]


def _assistant(corpus: Path | None, index: Path | None, model: str | None, mode: str = "hybrid"):
    from qa.pipeline import Assistant

    return Assistant(corpus=corpus, index_dir=index, model=model, mode=mode)


def _ready(assistant, quiet: bool):
    """Build or refresh the index when needed, with progress bars on stderr."""
    from qa.progress import progress_bars

    with progress_bars(not quiet) as progress:
        report = assistant.ensure_index(progress)
    if report is not None and not report.up_to_date:
        _note(f"indexed {len(report.added) + len(report.changed)} article(s) into {assistant.index_dir.root}")
    return assistant


def _note(message: str) -> None:
    typer.echo(f"citeqa: {message}", err=True)


@app.command()
def index(
    corpus: Annotated[Path | None, typer.Argument(help="Folder of articles. Default: the bundled seeds.")] = None,
    index: IndexOpt = None,
    model: ModelOpt = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Re-embed everything, replacing the index.")] = False,
    quiet: QuietOpt = False,
) -> None:
    """Index a folder of articles (incremental: only new or changed articles are embedded)."""
    from qa.progress import progress_bars

    assistant = _assistant(corpus, index, model)
    with progress_bars(not quiet) as progress:
        report = assistant.update_index(progress, rebuild=rebuild)
    if report.up_to_date:
        typer.echo(f"Index up to date: {report.unchanged} article(s), nothing to embed ({report.seconds:.2f} s).")
    else:
        typer.echo(
            f"Indexed {len(report.added)} new, {len(report.changed)} changed, {len(report.removed)} removed, "
            f"{report.unchanged} unchanged article(s); embedded {report.embedded} texts in {report.seconds:.1f} s."
        )
    typer.echo(f"Index: {assistant.index_dir.root}")


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, in plain English.")],
    corpus: CorpusOpt = None,
    index: IndexOpt = None,
    model: ModelOpt = None,
    k: Annotated[int, typer.Option("--k", "-k", min=1, max=100, help="Passages to retrieve.")] = 5,
    mode: Annotated[str, typer.Option("--mode", help="Retrieval: dense, bm25 or hybrid.")] = "hybrid",
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer as JSON (schema in README).")] = False,
    quiet: QuietOpt = False,
) -> None:
    """Answer a question from the articles, citing each sentence."""
    from qa.pipeline import validate_question
    from qa.render import answer_to_dict, answer_to_text

    validate_question(question)  # before any indexing work
    assistant = _ready(_assistant(corpus, index, model, mode), quiet)
    answer = assistant.ask(question, k=k)
    if as_json:
        typer.echo(json.dumps(answer_to_dict(answer), ensure_ascii=False, indent=2))
    else:
        typer.echo(answer_to_text(answer))


@app.command()
def info(
    corpus: CorpusOpt = None,
    index: IndexOpt = None,
    model: ModelOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Show what is indexed: articles, chunks, sentences, model, index path and size."""
    assistant = _assistant(corpus, index, model)
    if not assistant.index_dir.exists():
        raise CiteqaError(f"no index yet for {assistant.corpus}; build it with `citeqa index` or just ask")
    details = assistant.info()
    if as_json:
        typer.echo(json.dumps(details, indent=2))
        return
    for label, key in (
        ("Corpus", "corpus"),
        ("Index", "index"),
        ("Model", "model"),
        ("Articles", "articles"),
        ("Chunks", "chunks"),
        ("Sentences", "sentences"),
        ("Built", "created"),
    ):
        typer.echo(f"{label + ':':<11}{details[key]}")
    typer.echo(f"{'Size:':<11}{details['size_bytes'] / 1024:,.0f} KiB")


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    from qa.ingest import SkippedFile

    if issubclass(category, SkippedFile):
        _note(f"warning: {message}")


def main() -> None:
    """Entry point: one-line errors with exit code 1 (2 for usage errors), never a traceback."""
    warnings.showwarning = _show_warning
    try:
        app()
    except CiteqaError as exc:
        _note(f"error: {exc}")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        _note("interrupted")
        sys.exit(130)


__all__ = ["UsageError", "app", "main"]
