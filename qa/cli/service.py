"""The service commands: `serve` (HTTP) and `mcp` (stdio), both over one qa.serve Service."""

from __future__ import annotations

import warnings
from typing import Annotated

import typer

from qa.cli.shared import CorpusOpt, FollowLinksOpt, ModelOpt, ReaderOpt, StoreOpt
from qa.errors import CiteqaError, UsageError

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
            help="Questions answered at once, each reading on its share of the cores; default 2 (1 on one core).",
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
