"""citeqa as a service, whatever the transport (HTTP in qa.serve.http, MCP in qa.serve.mcp).

One `Service` owns two Assistants over the same corpus and index: one answers, one writes. Questions are answered
one at a time on a worker thread from the open index generation, while the folder is watched and each change is
applied by the writer in the background (its update is the ordinary atomic one). When the writer publishes a
generation, the answerer switches to it between two questions, so no answer mixes two generations and none
waits for an update. Until the first index exists every question is refused with `IndexBuilding`, which HTTP
turns into 503 with Retry-After.

Every input is checked here, once, for both transports: the question by the CLI's rules, filters by the CLI's
parser, article ids only ever looked up among the indexed ones (never joined into a path).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from qa.errors import CiteqaError, UsageError
from qa.filters import make_filter
from qa.questions import validate_question
from qa.render import answer_to_dict, passage_dicts
from qa.settings import Settings, validate_mode

ARTICLE_FIELDS = ("id", "date", "source", "author", "title", "url", "path")
MAX_PAGE = 500
MAX_FILTER_VALUES = 50
T = TypeVar("T")


class NotFound(CiteqaError):
    """An article id that is not in the index."""


class IndexBuilding(CiteqaError):
    """The first index of the corpus is still being built; ask again in a moment."""


@dataclass(frozen=True)
class AskRequest:
    """What `ask` and `search` take, as `citeqa ask` takes it."""

    question: str
    k: int = 5
    mode: str = "hybrid"
    since: str | None = None
    until: str | None = None
    source: tuple[str, ...] = ()
    article: tuple[str, ...] = ()


@dataclass
class ServiceState:
    """What `status` reports about the index and its updates."""

    ready: bool = False
    updating: bool = False
    updates: int = 0
    last_update: str | None = None
    last_error: str | None = None


class Service:
    """The answering and writing sides of one corpus's index; see the module docstring."""

    def __init__(
        self,
        corpus: Path | None,
        index: str | None,
        model: str | None = None,
        settings: Settings | None = None,
        follow_links: bool = False,
        watch: bool = True,
    ) -> None:
        from qa.pipeline import Assistant

        def assistant() -> Assistant:
            return Assistant(corpus, index, model, settings or Settings(), follow_links=follow_links)

        self.answerer, self.writer = assistant(), assistant()
        self.watch = watch
        self.state = ServiceState()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="citeqa-answer")
        self._switch = threading.Event()  # set by the writer when it published a generation
        self._stop = threading.Event()
        self._articles: list | None = None
        self._background: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------------
    def start(self) -> None:
        """Load the models, and build or refresh the index (and then watch the folder) in the background."""
        self.answerer.load_model()
        self._background = threading.Thread(target=self._keep_in_step, name="citeqa-writer", daemon=True)
        self._background.start()

    def stop(self) -> None:
        self._stop.set()
        if self._background is not None:
            self._background.join(timeout=30)
        self._worker.shutdown(wait=True)
        self.answerer.close()
        self.writer.close()

    def _keep_in_step(self) -> None:
        self._update()
        if self.watch and not self._stop.is_set():
            from qa.watch import watch_corpus

            watch_corpus(self.writer.corpus, self._update, stop=self._stop, catch_up=True)

    def _update(self) -> None:
        self.state.updating = True
        try:
            report = self.writer.update_index()
            self.writer.close()  # its index handles are not needed between updates
            self.state.last_error = None
            if not report.up_to_date:
                self.state.updates += 1
                self.state.last_update = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            if not report.up_to_date or not self.state.ready:
                self._switch.set()
            self.state.ready = True
        except CiteqaError as exc:  # a busy index, a full disk: reported in status, retried at the next change
            self.state.last_error = str(exc)
            self.state.ready = self.state.ready or self.writer.store.exists()
        except OSError as exc:
            self.state.last_error = f"{exc.strerror or exc}"
        finally:
            self.state.updating = False

    # -- answering (on the worker thread) -------------------------------------------------------------
    def run(self, job: Callable[[], T]) -> T:
        """Run `job` on the answering thread, after switching to a newly published generation."""
        return self._worker.submit(self._in_step, job).result()

    def _in_step(self, job: Callable[[], T]) -> T:
        if not self.state.ready and self.state.last_error:
            raise CiteqaError(f"the index could not be built: {self.state.last_error}")
        if not self.state.ready:
            raise IndexBuilding("the index of this corpus is still being built; ask again in a moment")
        if self._switch.is_set():
            self._switch.clear()
            self.answerer.close()  # the next question opens the generation CURRENT names now
            self._articles = None
        return job()

    def ask(self, request: AskRequest) -> dict:
        """The `citeqa ask --json` document for a question."""
        question, mode, only = _checked(request)
        return self.run(lambda: answer_to_dict(self.answerer.ask(question, k=request.k, mode=mode, only=only)))

    def search(self, request: AskRequest) -> dict:
        """The passages alone, as `ask --json` lists them."""
        question, mode, only = _checked(request)

        def job() -> dict:
            retrieval = self.answerer.search(question, k=request.k, mode=mode, only=only)
            passages = passage_dicts(retrieval.passages)
            return {"question": question, "mode": mode, "notes": list(retrieval.notes), "passages": passages}

        return self.run(job)

    def articles(self, offset: int = 0, limit: int = 50) -> dict:
        """A page of the indexed articles with their metadata, by id."""
        if offset < 0 or not 1 <= limit <= MAX_PAGE:
            raise UsageError(f"offset must be at least 0 and limit between 1 and {MAX_PAGE}")

        def job() -> dict:
            rows = self._article_rows()
            page = [{name: getattr(row, name) for name in ARTICLE_FIELDS} for row in rows[offset : offset + limit]]
            return {"total": len(rows), "offset": offset, "limit": limit, "articles": page}

        return self.run(job)

    def article(self, article_id: str) -> dict:
        """An indexed article's metadata and its stored text (what citations' offsets point into)."""

        def job() -> dict:
            if article_id not in {row.id for row in self._article_rows()}:
                raise NotFound(f"no article '{article_id}' in the index")
            row, text = self.answerer.article(article_id)
            return {**{name: getattr(row, name) for name in ARTICLE_FIELDS}, "pages": list(row.pages), "text": text}

        return self.run(job)

    def status(self) -> dict:
        """Corpus, counts, model and generation, and whether an update is running (never waits for one)."""
        details: dict = {"ready": self.state.ready}
        if self.state.ready:
            details.update(self.run(self.answerer.info))
        return {
            **details,
            "corpus": str(self.answerer.corpus),
            "updating": self.state.updating,
            "updates": self.state.updates,
            "last_update": self.state.last_update,
            "last_error": self.state.last_error,
        }

    def _article_rows(self) -> list:
        if self._articles is None:
            self._articles = self.answerer.index.articles()
        return self._articles


def _checked(request: AskRequest) -> tuple[str, str, object]:
    """The question, mode and filter of a request, checked as `citeqa ask` checks them."""
    question = validate_question(request.question)
    mode = validate_mode(request.mode)
    if not 1 <= request.k <= 100:
        raise UsageError("k must be between 1 and 100")
    if len(request.source) > MAX_FILTER_VALUES or len(request.article) > MAX_FILTER_VALUES:
        raise UsageError(f"at most {MAX_FILTER_VALUES} source and article filters")
    return question, mode, make_filter(request.since, request.until, request.source, request.article)
