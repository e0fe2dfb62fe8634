"""citeqa as a service, whatever the transport (HTTP in qa.serve.http, MCP in qa.serve.mcp).

One `Service` owns Assistants over the same corpus and index: `workers` that answer and one that writes. Each
answering Assistant runs on its own thread and answers one question at a time from the open index generation
(two answer at once on two cores: the models' sessions and the vector search run outside Python's lock), while
the folder is watched and each change is applied by the writer in the background (its update is the ordinary
atomic one). All of them share one loaded encoder and reader. When the writer publishes a generation, each
answerer switches to it between two questions, so no answer mixes two generations and none waits for an update.
Until the first index exists every question is refused with `IndexBuilding`, which HTTP turns into 503 with
Retry-After.

Every input is checked here, once, for both transports: the question by the CLI's rules, filters by the CLI's
parser, article ids only ever looked up among the indexed ones (never joined into a path).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from qa.cores import run_in_background, usable_cores
from qa.errors import CiteqaError, UsageError
from qa.present.render import answer_to_dict, passage_dicts
from qa.retrieve.filters import make_filter
from qa.settings import SERVE_WORKERS, Settings, validate_mode
from qa.text.questions import validate_question

ARTICLE_FIELDS = ("id", "date", "source", "author", "title", "url", "path")
MAX_PAGE = 500
MAX_FILTER_VALUES = 50
T = TypeVar("T")

if TYPE_CHECKING:
    from qa.pipeline import Assistant


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
        workers: int | None = None,
    ) -> None:
        """`workers` Assistants answer at once (default SERVE_WORKERS, or one a core on fewer cores), each reading
        with its share of the cores unless the settings say how many threads."""
        from qa.pipeline import Assistant

        cores = usable_cores()
        workers = min(SERVE_WORKERS, cores) if workers is None else workers
        if workers < 1:
            raise UsageError("at least one answering worker is needed")
        settings = settings or Settings()
        if settings.threads is None and workers > 1:
            # one shared session, each question's reading on its worker's own threads rather than all of them
            # contending for one pool of a thread per core
            settings = replace(settings, threads=max(1, cores // workers))

        def assistant() -> Assistant:
            return Assistant(corpus, index, model, settings, follow_links=follow_links)

        self.answerers = [assistant() for _ in range(workers)]
        self.writer = assistant()
        self.watch = watch
        self.state = ServiceState()
        # one pool thread per answerer, each claiming its own for good (its SQLite connections belong to that thread);
        # questions wait in the pool's one queue and are taken in the order they came, so none is passed over
        self._unclaimed: queue.SimpleQueue[int] = queue.SimpleQueue()
        for n in range(workers):
            self._unclaimed.put(n)
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="citeqa-answer", initializer=self._claim)
        self._published = 0  # generations the writer published; each answerer opens the latest between questions
        self._opened = [0] * workers
        self._stop = threading.Event()
        self._articles: tuple[int, list] | None = None  # (generation, rows)
        self._background: threading.Thread | None = None

    @property
    def answerer(self) -> Assistant:
        """The first answering Assistant (corpus, models and settings are the same in all of them)."""
        return self.answerers[0]

    # -- lifecycle ------------------------------------------------------------------------------------
    def start(self) -> None:
        """Load the models, and build or refresh the index (and then watch the folder) in the background."""
        self.answerer.load_model()
        for other in (*self.answerers[1:], self.writer):
            other.share_models(self.answerer)
        self._background = threading.Thread(target=self._keep_in_step, name="citeqa-writer", daemon=True)
        self._background.start()

    def stop(self) -> None:
        self._stop.set()
        if self._background is not None:
            self._background.join(timeout=30)
        self._pool.shutdown(wait=True)
        for assistant in (*self.answerers, self.writer):
            assistant.close()

    def _keep_in_step(self) -> None:
        run_in_background()  # answering first: an update waits for a free core, a question does not
        self._update()
        if self.watch and not self._stop.is_set():
            self.writer.watch(self._update, stop=self._stop, catch_up=True)

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
                self._published += 1
            self.state.ready = True
        except CiteqaError as exc:  # a busy index, a full disk: reported in status, retried at the next change
            self.state.last_error = str(exc)
            self.state.ready = self.state.ready or self.writer.store.exists()
        except OSError as exc:
            self.state.last_error = f"{exc.strerror or exc}"
        finally:
            self.state.updating = False

    # -- answering (on the worker threads) ------------------------------------------------------------
    def run(self, job: Callable[[Assistant], T]) -> T:
        """Run `job`, in the order questions came, on the next free answering Assistant's thread, after it opened
        the latest generation."""
        if not self.state.ready and self.state.last_error:
            raise CiteqaError(f"the index could not be built: {self.state.last_error}")
        if not self.state.ready:
            raise IndexBuilding("the index of this corpus is still being built; ask again in a moment")
        return self._pool.submit(self._in_step, job).result()

    def _claim(self) -> None:
        """A new pool thread takes the answerer no other thread has."""
        self._local.n = self._unclaimed.get_nowait()

    def _in_step(self, job: Callable[[Assistant], T]) -> T:
        n = self._local.n
        answerer, published = self.answerers[n], self._published
        if self._opened[n] != published:
            answerer.switch_generation()  # its next question opens the generation CURRENT names now
            self._opened[n] = published
        return job(answerer)

    def ask(self, request: AskRequest) -> dict:
        """The `citeqa ask --json` document for a question."""
        question, mode, only = _checked(request)
        return self.run(lambda a: answer_to_dict(a.ask(question, k=request.k, mode=mode, only=only)))

    def search(self, request: AskRequest) -> dict:
        """The passages alone, as `ask --json` lists them."""
        question, mode, only = _checked(request)

        def job(answerer: Assistant) -> dict:
            retrieval = answerer.search(question, k=request.k, mode=mode, only=only)
            passages = passage_dicts(retrieval.passages)
            return {"question": question, "mode": mode, "notes": list(retrieval.notes), "passages": passages}

        return self.run(job)

    def articles(self, offset: int = 0, limit: int = 50) -> dict:
        """A page of the indexed articles with their metadata, by id."""
        if offset < 0 or not 1 <= limit <= MAX_PAGE:
            raise UsageError(f"offset must be at least 0 and limit between 1 and {MAX_PAGE}")

        def job(answerer: Assistant) -> dict:
            rows = self._article_rows(answerer)
            page = [{name: getattr(row, name) for name in ARTICLE_FIELDS} for row in rows[offset : offset + limit]]
            return {"total": len(rows), "offset": offset, "limit": limit, "articles": page}

        return self.run(job)

    def article(self, article_id: str) -> dict:
        """An indexed article's metadata and its stored text (what citations' offsets point into)."""

        def job(answerer: Assistant) -> dict:
            if article_id not in {row.id for row in self._article_rows(answerer)}:
                raise NotFound(f"no article '{article_id}' in the index")
            row, text = answerer.article(article_id)
            return {**{name: getattr(row, name) for name in ARTICLE_FIELDS}, "pages": list(row.pages), "text": text}

        return self.run(job)

    def status(self) -> dict:
        """Corpus, counts, model and generation, and whether an update is running (never waits for one)."""
        details: dict = {"ready": self.state.ready}
        if self.state.ready:
            details.update(self.run(lambda a: a.info()))
        return {
            **details,
            "corpus": str(self.answerer.corpus),
            "workers": len(self.answerers),
            "updating": self.state.updating,
            "updates": self.state.updates,
            "last_update": self.state.last_update,
            "last_error": self.state.last_error,
        }

    def _article_rows(self, answerer: Assistant) -> list:
        """The indexed articles of the generation `answerer` has open, listed once per generation."""
        opened = self._opened[self.answerers.index(answerer)]
        cached = self._articles
        if cached is None or cached[0] != opened:
            cached = (opened, answerer.index.articles())
            self._articles = cached
        return cached[1]


def _checked(request: AskRequest) -> tuple[str, str, object]:
    """The question, mode and filter of a request, checked as `citeqa ask` checks them."""
    question = validate_question(request.question)
    mode = validate_mode(request.mode)
    if not 1 <= request.k <= 100:
        raise UsageError("k must be between 1 and 100")
    if len(request.source) > MAX_FILTER_VALUES or len(request.article) > MAX_FILTER_VALUES:
        raise UsageError(f"at most {MAX_FILTER_VALUES} source and article filters")
    return question, mode, make_filter(request.since, request.until, request.source, request.article)
