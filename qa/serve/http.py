"""The HTTP API of `citeqa serve`: versioned JSON endpoints on FastAPI, served by uvicorn.

    POST /v1/ask             the `citeqa ask --json` document (schema citeqa.answer/1)
    POST /v1/search          the passages alone
    GET  /v1/articles        the indexed articles with their metadata, paged (offset, limit)
    GET  /v1/articles/{id}   one article's metadata and stored text, to check a citation's offsets
    GET  /v1/status          corpus, counts, model, index generation, whether an update is running
    GET  /healthz            liveness, without authentication

Errors are `{"error": {"code": …, "message": …}}` with the one-line message the CLI prints: 400 bad_request,
401 unauthorized, 404 not_found, 413 too_large, 503 index_building (with Retry-After) or index_unavailable, 500
error. Request bodies are bounded (MAX_BODY_BYTES), questions by the CLI's 2,000-character rule, and a token,
when given, is required on every endpoint but /healthz (compared in constant time). No CORS unless asked for.
Answering runs on the Service's worker thread; the event loop only parses and writes, so a slow question never
stalls /healthz or /v1/status.
"""

from __future__ import annotations

import hmac
import logging
from typing import Annotated, Literal

from fastapi import Body, FastAPI, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from qa.errors import CiteqaError, IndexUnusableError, UsageError
from qa.serve.service import MAX_FILTER_VALUES, MAX_PAGE, AskRequest, IndexBuilding, NotFound, Service
from qa.text.questions import MAX_QUESTION_CHARS

MAX_BODY_BYTES = 64 * 1024
RETRY_AFTER_S = 5
log = logging.getLogger("citeqa.serve")


class AskBody(BaseModel):
    """The body of /v1/ask and /v1/search: `citeqa ask`'s arguments."""

    model_config = ConfigDict(extra="forbid")
    question: str = Field(max_length=MAX_QUESTION_CHARS)
    k: int = Field(5, ge=1, le=100)
    mode: Literal["hybrid", "dense", "bm25"] = "hybrid"
    since: str | None = Field(None, max_length=10)
    until: str | None = Field(None, max_length=10)
    source: list[Annotated[str, Field(max_length=200)]] = Field(default_factory=list, max_length=MAX_FILTER_VALUES)
    article: list[Annotated[str, Field(max_length=500)]] = Field(default_factory=list, max_length=MAX_FILTER_VALUES)

    def request(self) -> AskRequest:
        return AskRequest(
            self.question, self.k, self.mode, self.since, self.until, tuple(self.source), tuple(self.article)
        )


def error(status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def create_app(  # noqa: C901  (FastAPI's idiom: the routes are closures over the service; each is simple)
    service: Service, token: str | None = None, cors_origins: tuple[str, ...] = (), log_questions: bool = False
) -> FastAPI:
    """The API over a started Service."""
    app = FastAPI(
        title="citeqa",
        version="1",
        summary="Answers from a folder of articles, each sentence cited to where it came from.",
        docs_url=None,
        redoc_url=None,
    )
    if cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(cors_origins), allow_methods=["GET", "POST"])
    app.add_middleware(BoundedBody)
    expected = f"Bearer {token}".encode() if token else None

    @app.middleware("http")
    async def authenticate(request: Request, call_next):
        if expected is not None and request.url.path != "/healthz":
            given = request.headers.get("authorization", "").encode("utf-8", "replace")
            if not hmac.compare_digest(given, expected):
                return error(
                    401,
                    "unauthorized",
                    "a valid 'Authorization: Bearer TOKEN' header is required",
                    {"WWW-Authenticate": "Bearer"},
                )
        return await call_next(request)

    @app.exception_handler(CiteqaError)
    async def citeqa_error(request: Request, exc: CiteqaError) -> JSONResponse:
        message = str(exc)
        if isinstance(exc, UsageError):
            return error(400, "bad_request", message)
        if isinstance(exc, NotFound):
            return error(404, "not_found", message)
        if isinstance(exc, IndexBuilding):
            return error(503, "index_building", message, {"Retry-After": str(RETRY_AFTER_S)})
        if isinstance(exc, IndexUnusableError):
            return error(503, "index_unavailable", message)
        return error(500, "error", message)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
        if not where:
            return error(400, "bad_request", "the body must be a JSON object, sent as Content-Type: application/json")
        return error(400, "bad_request", f"{where}: {first.get('msg', 'invalid request')}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}
        return error(exc.status_code, codes.get(exc.status_code, "error"), str(exc.detail))

    @app.post("/v1/ask", summary="Answer a question, citing each sentence (the `citeqa ask --json` document)")
    async def ask(body: Annotated[AskBody, Body()]) -> dict:
        if log_questions:
            log.info("ask %r", body.question)
        return await run_in_threadpool(service.ask, body.request())

    @app.post("/v1/search", summary="The passages retrieved for a question, without an answer")
    async def search(body: Annotated[AskBody, Body()]) -> dict:
        if log_questions:
            log.info("search %r", body.question)
        return await run_in_threadpool(service.search, body.request())

    @app.get("/v1/articles", summary="The indexed articles with their metadata, by id")
    async def articles(
        offset: Annotated[int, Query(ge=0)] = 0, limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50
    ) -> dict:
        return await run_in_threadpool(service.articles, offset, limit)

    @app.get("/v1/articles/{article_id:path}", summary="One article's metadata and stored text")
    async def article(article_id: Annotated[str, Path(max_length=1000)]) -> dict:
        return await run_in_threadpool(service.article, article_id)

    @app.get("/v1/status", summary="Corpus, counts, model, index generation and updates")
    async def status() -> dict:
        return await run_in_threadpool(service.status)

    @app.get("/healthz", summary="Liveness")
    async def healthz() -> dict:
        return {"ok": True}

    return app


class BoundedBody:
    """ASGI middleware: a request body over MAX_BODY_BYTES is answered 413 before it is read into memory, by its
    Content-Length or, without one, as soon as the bytes received pass the bound."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
            await _too_large(scope, receive, send)
            return
        received = 0

        async def bounded_receive():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > MAX_BODY_BYTES:
                raise _BodyTooLarge
            return message

        try:
            await self.app(scope, bounded_receive, send)
        except _BodyTooLarge:
            await _too_large(scope, receive, send)


class _BodyTooLarge(Exception):
    pass


async def _too_large(scope, receive, send) -> None:
    response = error(413, "too_large", f"the request body is over {MAX_BODY_BYTES // 1024} KiB")
    await response(scope, receive, send)
