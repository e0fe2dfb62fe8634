"""The asking commands: `ask` for one answer, `chat` for the terminal UI."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from qa.cli.shared import (
    ArticleOpt,
    CorpusOpt,
    FollowLinksOpt,
    ModelOpt,
    PrecisionOpt,
    QuietOpt,
    ReaderOpt,
    SinceOpt,
    SourceOpt,
    StoreOpt,
    UntilOpt,
    make_assistant,
    ready,
)
from qa.errors import UsageError
from qa.present.terminal import json_text


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
    assistant = ready(make_assistant(corpus, store, model, precision, mode, k, reader, follow_links), quiet)
    answer = assistant.ask(question, only=only)
    if as_json:
        typer.echo(json_text(answer_to_dict(answer)))
    else:
        bold = ("\x1b[1m", "\x1b[0m") if sys.stdout.isatty() else ("", "")
        typer.echo(answer_to_text(answer, emphasis=bold))


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
    CiteqaApp(make_assistant(corpus, store, model, precision, mode, reader=reader, follow_links=follow_links)).run()
    # An indexing thread cancelled at quit may still be inside one batch; the index write is atomic, so
    # leave now rather than wait for it.
    sys.stdout.flush()
    os._exit(0)
