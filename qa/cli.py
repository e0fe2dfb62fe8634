"""The `citeqa` command line: index, ask, info, eval and chat.

Heavy libraries are imported inside the commands that need them: `citeqa --help` or `citeqa info` never
pays for torch, and `ask` pays only when it must embed the question.
"""

from __future__ import annotations

import gc
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Annotated

import typer

from qa.errors import CiteqaError, UsageError
from qa.present.terminal import json_text, printable, printable_line

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


def _assistant(
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


def _ready(assistant, quiet: bool):
    """Build or refresh the index when needed, with progress bars on stderr."""
    from qa.present.progress import progress_bars

    _silence(quiet)
    with progress_bars(not quiet) as progress:
        report = assistant.ensure_index(progress)
    _report_indexing(assistant, report, quiet)
    return assistant


def _silence(quiet: bool) -> None:
    """-q: files skipped while indexing are not reported (they are still listed in the manifest)."""
    if quiet:
        from qa.ingest.corpus import SkippedFile

        warnings.simplefilter("ignore", SkippedFile)


def _report_indexing(assistant, report, quiet: bool) -> None:
    if report is not None and not report.up_to_date and not quiet:
        _note(
            f"indexed {len(report.added) + len(report.changed)} article(s) in {report.seconds:.1f} s "
            f"into {assistant.store.location}"
        )


def _note(message: str) -> None:
    """One line on stderr; file names and article text in it are shown with control characters visible."""
    typer.echo(f"citeqa: {printable_line(message)}", err=True)


@app.command()
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

    assistant = _assistant(corpus, store, model, precision, follow_links=follow_links)
    if check:
        started = time.perf_counter()
        counts = assistant.store.check()
        typer.echo(
            f"Index OK: {counts['articles']} article(s), {counts['chunks']} chunks, {counts['sentences']} sentences; "
            f"every file matches its checksum ({time.perf_counter() - started:.2f} s)."
        )
        return
    _silence(quiet)
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
            _note(f"warning: {exc if isinstance(exc, CiteqaError) else _os_error(exc)}; still watching")
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


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, in plain English.")],
    corpus: CorpusOpt = None,
    store: StoreOpt = None,
    model: ModelOpt = None,
    precision: PrecisionOpt = None,
    k: Annotated[int, typer.Option("--k", "-k", min=1, max=100, help="Passages to retrieve.")] = 5,
    mode: Annotated[str, typer.Option("--mode", help="Retrieval: dense, bm25 or hybrid.")] = "hybrid",
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer as JSON (schema in docs/cli.md).")] = False,
    since: SinceOpt = None,
    until: UntilOpt = None,
    source: SourceOpt = None,
    article: ArticleOpt = None,
    reader: ReaderOpt = True,
    follow_links: FollowLinksOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Answer a question from the articles, citing each sentence."""
    from qa.present.render import answer_to_dict, answer_to_text
    from qa.retrieve.filters import make_filter
    from qa.text.questions import validate_question

    validate_question(question)  # before any indexing work
    only = make_filter(since, until, source or (), article or ())
    assistant = _ready(_assistant(corpus, store, model, precision, mode, k, reader, follow_links), quiet)
    answer = assistant.ask(question, only=only)
    if as_json:
        typer.echo(json_text(answer_to_dict(answer)))
    else:
        bold = ("\x1b[1m", "\x1b[0m") if sys.stdout.isatty() else ("", "")
        typer.echo(answer_to_text(answer, emphasis=bold))


@app.command()
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
    assistant = _assistant(corpus, store, model, None)
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


@app.command()
def chat(
    corpus: CorpusOpt = None,
    store: StoreOpt = None,
    model: ModelOpt = None,
    precision: PrecisionOpt = None,
    mode: Annotated[str, typer.Option("--mode", help="Retrieval: dense, bm25 or hybrid.")] = "hybrid",
    reader: ReaderOpt = True,
    follow_links: FollowLinksOpt = False,
) -> None:
    """Open the chat UI: ask, read cited answers, press 1-9 to see a citation in its article."""
    import os

    from tui.app import CiteqaApp

    if corpus is not None and not corpus.exists():
        raise UsageError(f"corpus path '{corpus}' does not exist")
    CiteqaApp(_assistant(corpus, store, model, precision, mode, reader=reader, follow_links=follow_links)).run()
    # An indexing thread cancelled at quit may still be inside one batch; the index write is atomic, so
    # leave now rather than wait for it.
    sys.stdout.flush()
    os._exit(0)


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


LOOPBACK = ("127.0.0.1", "localhost", "::1")
ServiceWatchOpt = Annotated[
    bool, typer.Option("--watch/--no-watch", help="Keep the index in step with the folder (default).")
]


def _service(corpus, store, model, reader: bool, follow_links: bool, watch: bool, workers: int | None = None):
    """A started Service, or one line saying which extra to install."""
    try:
        import fastapi  # noqa: F401  (the check that the serve extra is installed)
    except ImportError:
        raise UsageError("the service needs the serve extra: pip install 'citeqa[serve]'") from None
    from qa.serve.service import Service
    from qa.settings import Settings

    if corpus is not None and not corpus.exists():
        raise UsageError(f"corpus path '{corpus}' does not exist")
    settings = Settings(reader=reader)
    service = Service(corpus, store, model, settings, follow_links=follow_links, watch=watch, workers=workers)
    service.start()
    return service


@app.command()
def serve(
    corpus: CorpusOpt = None,
    store: StoreOpt = None,
    model: ModelOpt = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on; any but loopback needs --token.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8765,
    token: Annotated[
        str | None,
        typer.Option("--token", envvar="CITEQA_TOKEN", show_envvar=True, help="Require 'Authorization: Bearer TOKEN'."),
    ] = None,
    watch: ServiceWatchOpt = True,
    cors: Annotated[
        list[str] | None, typer.Option("--cors", help="Allow browser pages from ORIGIN; repeat for several.")
    ] = None,
    log_questions: Annotated[
        bool, typer.Option("--log-questions", help="Log every question's text (off: the log has paths only).")
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            max=16,
            help="Questions answered at once; default 1 (its models use every core already; more help on a machine "
            "with more cores).",
        ),
    ] = None,
    reader: ReaderOpt = True,
    follow_links: FollowLinksOpt = False,
) -> None:
    """Answer over HTTP: POST /v1/ask gives the `ask --json` document; OpenAPI at /openapi.json (see docs/serve.md)."""
    if host not in LOOPBACK and not token:
        raise UsageError(f"listening on {host} would let anyone on the network ask; give --token (or CITEQA_TOKEN)")
    if token is not None and len(token) < 16:
        raise UsageError("the token must be at least 16 characters")
    _check_listening(host, port)
    import signal

    service = _service(corpus, store, model, reader, follow_links, watch, workers)
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        import logging

        import uvicorn

        from qa.serve.http import create_app

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(service, token, tuple(cors or ()), log_questions),
                host=host,
                port=port,
                log_level="info",
                timeout_graceful_shutdown=30,
            )
        )
        server.run()
    except _Terminated:  # uvicorn finished the requests in flight, then passed SIGTERM on: a clean stop
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        service.stop()


def _check_listening(host: str, port: int) -> None:
    """One line, before the models load, when the address cannot be listened on (a port in use, say)."""
    import socket

    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        raise CiteqaError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


class _Terminated(Exception):
    """SIGTERM, once the server has shut down gracefully."""


def _terminated(signum, frame) -> None:
    raise _Terminated


@app.command()
def mcp(
    corpus: CorpusOpt = None,
    store: StoreOpt = None,
    model: ModelOpt = None,
    watch: ServiceWatchOpt = True,
    reader: ReaderOpt = True,
    follow_links: FollowLinksOpt = False,
) -> None:
    """Serve the corpus to an MCP client over stdio: tools ask, search, list_articles, read_article."""
    from qa.serve.mcp import create_server

    warnings.simplefilter("ignore")  # stdout is the protocol's; skipped files are listed by `citeqa info`
    service = _service(corpus, store, model, reader, follow_links, watch)
    try:
        create_server(service).run("stdio")
    finally:
        service.stop()


@app.command(name="eval")
def eval_command(
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
    _silence(quiet)
    loaded = load_dataset(dataset)
    if corpus is not None and loaded.documents is not None:
        raise UsageError(f"{loaded.format} datasets bring their own corpus; --corpus is for .jsonl question files")
    unmeasured = set(thresholds) - set(metric_names(ks, loaded.questions))
    if unmeasured:
        raise UsageError(f"--fail-under: {dataset.name} cannot measure {', '.join(sorted(unmeasured))}")
    from qa.settings import Settings

    assistant = assistant_for(loaded, corpus, store, model, Settings(reader=reader), precision)
    with progress_bars(not quiet) as progress:
        _report_indexing(assistant, assistant.ensure_index(progress), quiet)
        started = time.perf_counter()
        run = run_eval(loaded, assistant, modes, ks, progress, only)
    _note(
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


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Our warnings as one `citeqa: warning:` line each; libraries' warnings stay quiet."""
    from embeddings.errors import ExportRefused
    from qa.errors import StaleIndexWarning
    from qa.ingest.corpus import SkippedFile

    if issubclass(category, SkippedFile | StaleIndexWarning | ExportRefused):
        _note(f"warning: {message}")


def main() -> None:
    """Entry point: one-line errors with exit code 1 (2 for usage errors), never a traceback."""
    # Typer raises its own (vendored) click's exceptions when it is not left to print them itself.
    from typer._click import ClickException
    from typer._click.exceptions import NoArgsIsHelpError

    warnings.showwarning = _show_warning
    try:
        status = app(standalone_mode=False, prog_name="citeqa")
    except NoArgsIsHelpError as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ClickException as exc:  # option parsing: one line and where to look, not a boxed panel
        command = exc.ctx.command_path if getattr(exc, "ctx", None) else "citeqa"
        _note(f"error: {exc.format_message()} (see '{command} -h')")
        sys.exit(exc.exit_code)
    except typer.Abort:
        _note("interrupted")
        sys.exit(130)
    except CiteqaError as exc:
        _note(f"error: {exc}")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        _note("interrupted")
        sys.exit(130)
    except OSError as exc:  # an unwritable index directory, a full disk: the system's words, one line
        _note(f"error: {_os_error(exc)}")
        sys.exit(1)
    if status == 130:
        _note("interrupted")
    # The process is ending: its last garbage collections would walk every object numpy, onnxruntime and FAISS
    # made, 0.045 s of a 0.5 s `ask` (bench/cold_start.py). Frozen, they are still freed, just not searched.
    gc.freeze()
    sys.exit(status or 0)


def _os_error(exc: OSError) -> str:
    import errno

    where = f": {exc.filename}" if exc.filename else ""
    if exc.errno == errno.ENOSPC:
        return f"the disk is full{where}; nothing was changed, the previous index still answers"
    return f"{exc.strerror or exc}{where}"
