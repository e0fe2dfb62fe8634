"""The chat screen: the conversation, its sources, the question box and the status line.

It owns its workers: indexing and model loading, and answering, run in threads and report back with messages
(`IndexProgress`, `IndexReady`, `IndexFailed`, `AnswerReady`, `AnswerFailed`, and `CorpusChanged` from the
folder watcher) that the screen handles on the event loop, so nothing waits for them. Quitting cancels an
indexing run between batches; the index write is atomic.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input, Label, ProgressBar
from textual.worker import Worker, WorkerState, get_current_worker

from qa.answer.result import Answer
from qa.errors import CiteqaError, UsageError, first_line
from qa.pipeline import Assistant
from qa.present.progress import STAGE_LABELS
from qa.present.render import answer_to_text
from qa.retrieve.filters import Filter, split_inline
from qa.retrieve.followup import Turn
from qa.retrieve.retriever import MODES
from qa.text.questions import validate_question
from tui.export import conversation_markdown
from tui.screens.article import ArticleScreen
from tui.widgets.citation_keys import CitationChosen
from tui.widgets.conversation import ConversationView, Exchange, ExchangeView
from tui.widgets.question_input import QuestionInput
from tui.widgets.sources import SourcesPane
from tui.widgets.status import StatusLine

HISTORY_TURNS = 3
NARROW_WIDTH = 100


class IndexingCancelled(Exception):
    """Raised from the progress callback when the app is quitting mid-index."""


class ChatScreen(Screen):
    BINDINGS = [
        Binding("ctrl+r", "reindex", "Re-index"),
        Binding("ctrl+t", "cycle_mode", "Mode"),
        Binding("ctrl+l", "clear", "Clear"),
        Binding("ctrl+e", "export", "Export"),
        Binding("ctrl+y", "copy_answer", "Copy"),
        Binding("q", "app.quit", "Quit", show=False),
    ]

    class IndexProgress(Message):
        def __init__(self, stage: str, done: int, total: int) -> None:
            super().__init__()
            self.stage, self.done, self.total = stage, done, total

    class IndexReady(Message):
        def __init__(self, info: dict) -> None:
            super().__init__()
            self.info = info

    class IndexFailed(Message):
        def __init__(self, reason: str) -> None:
            super().__init__()
            self.reason = reason

    class AnswerReady(Message):
        def __init__(self, view: ExchangeView, answer: Answer) -> None:
            super().__init__()
            self.view, self.answer = view, answer

    class CorpusChanged(Message):
        """Articles were added, changed or removed in the corpus folder while the chat is open."""

    class AnswerFailed(Message):
        def __init__(self, view: ExchangeView, reason: str) -> None:
            super().__init__()
            self.view, self.reason = view, reason

    def __init__(self, assistant: Assistant, export_dir: Path) -> None:
        super().__init__()
        self.assistant = assistant
        self.export_dir = export_dir
        self.mode = assistant.settings.mode
        self.only: Filter | None = None  # set by since:/until:/source:/article: tokens in a question
        self.is_ready = False
        self.reindex_requested = False
        self.failure: str | None = None
        self.pending: list[ExchangeView] = []
        self.turns: list[Turn] = []
        self.started_at = time.perf_counter()
        self.ready_s: float | None = None
        self._stop_watching = threading.Event()

    # -- layout ---------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Horizontal(id="panes"):
            yield ConversationView(id="conversation")
            yield SourcesPane(id="sources")
        with Horizontal(id="loading"):
            yield Label("Starting…", id="loading-label")
            yield ProgressBar(id="progress", show_eta=False)
        yield QuestionInput(id="question")
        yield StatusLine(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#conversation").border_title = "Conversation"
        self.query_one("#sources").border_title = "Sources"
        status = self.query_one(StatusLine)
        status.corpus = self.assistant.corpus.name
        status.mode = self.mode
        self._show_sources(None)
        self.query_one(QuestionInput).focus()
        self.prepare()
        self.watch_folder()

    def on_unmount(self) -> None:
        self._stop_watching.set()

    @property
    def indexing(self) -> bool:
        """An indexing (or model loading) worker is running."""
        return any(w.group == "prepare" and w.is_running for w in self.workers)

    # -- live refresh (thread worker) -----------------------------------------------------------------
    @work(thread=True, group="watch")
    def watch_folder(self) -> None:
        """Post CorpusChanged after every burst of changes to the corpus, until the screen goes away."""
        # no catch-up call: prepare() reads the folder as the watcher starts
        self.assistant.watch(self._post_change, self._stop_watching, catch_up=False)

    def _post_change(self) -> None:
        self.post_message(self.CorpusChanged())

    @on(CorpusChanged)
    def _corpus_changed(self) -> None:
        """Bring the index up to date; questions keep being answered from the current one meanwhile."""
        if self.indexing:
            self.reindex_requested = True
            return
        self.query_one(StatusLine).state = "refreshing"
        self.prepare()

    def on_resize(self) -> None:
        self.set_class(self.size.width < NARROW_WIDTH, "narrow")

    # -- indexing and model loading (thread worker) ---------------------------------------------------
    @work(thread=True, exclusive=True, group="prepare")
    def prepare(self, refresh: bool = False) -> None:
        """Check (or with `refresh`, re-read and hash) the corpus, index what changed, load the model."""
        worker = get_current_worker()

        def progress(stage: str, done: int, total: int) -> None:
            if worker.is_cancelled:
                raise IndexingCancelled
            self.post_message(self.IndexProgress(stage, done, total))

        try:
            if refresh:
                self.assistant.update_index(progress)
            else:
                self.assistant.ensure_index(progress)
            self.post_message(self.IndexProgress("loading model", 0, 0))
            self.assistant.load_model()  # now, not on the first question
            info = self.assistant.info()
        except IndexingCancelled:
            return
        except CiteqaError as exc:
            self.post_message(self.IndexFailed(str(exc)))
            return
        except Exception as exc:  # shown in the UI, never as a traceback
            self.post_message(self.IndexFailed(f"{type(exc).__name__}: {first_line(exc)}"))
            return
        self.post_message(self.IndexReady(info))

    @on(Worker.StateChanged)
    def _prepared(self, event: Worker.StateChanged) -> None:
        """A re-index asked for while indexing was under way starts once that run has finished."""
        cancelled = event.state == WorkerState.CANCELLED  # the app is quitting
        if event.worker.group == "prepare" and event.worker.is_finished and self.reindex_requested and not cancelled:
            self.reindex_requested = False
            self.action_reindex()

    @on(IndexProgress)
    def _show_progress(self, message: IndexProgress) -> None:
        self.query_one("#loading").remove_class("-hidden")
        label = STAGE_LABELS.get(message.stage, message.stage.capitalize())
        total = message.total
        self.query_one("#loading-label", Label).update(f"{label} {message.done}/{total}" if total else f"{label}…")
        self.query_one(ProgressBar).update(total=total or None, progress=message.done)
        self.query_one(StatusLine).state = label.lower()

    @on(IndexReady)
    def _index_ready(self, message: IndexReady) -> None:
        self.is_ready, self.failure = True, None
        self.ready_s = time.perf_counter() - self.started_at
        self.query_one("#loading").add_class("-hidden")
        status = self.query_one(StatusLine)
        status.counts = f"{message.info['articles']} articles · {message.info['chunks']} chunks"
        status.model = message.info["model"]
        status.state = "ready"
        waiting, self.pending = self.pending, []
        for view in waiting:
            self._start_answer(view)

    @on(IndexFailed)
    def _not_ready(self, message: IndexFailed) -> None:
        self.is_ready, self.failure = False, message.reason
        self.query_one("#loading").add_class("-hidden")
        self.query_one(StatusLine).state = "no index"
        conversation = self.query_one(ConversationView)
        conversation.add(Exchange("(citeqa)", note=f"Cannot use this corpus: {message.reason}", failed=True))
        for view in self.pending:
            self._decline(view)
        self.pending = []

    # -- asking ---------------------------------------------------------------------------------------
    @on(Input.Submitted, "#question")
    def ask(self, event: Input.Submitted) -> None:
        if not event.value.strip():
            return
        box = self.query_one(QuestionInput)
        try:
            text, only = split_inline(event.value)
            if only is not None:
                self.set_filter(only)
                if not text:  # only tokens: the filter is set for the questions that follow
                    box.value = ""
                    return
            question = validate_question(text)
        except UsageError as exc:  # kept in the box to be corrected, refused as `citeqa ask` refuses it
            self.notify(f"Cannot ask: {exc}", severity="error", markup=False)
            return
        box.remember(question)
        box.value = ""
        view = self.query_one(ConversationView).add(Exchange(question))
        if self.failure is not None:
            self._decline(view)
        elif not self.is_ready:
            view.show_note("Waiting for the index to be ready — this question will be answered then.")
            self.pending.append(view)
        else:
            self._start_answer(view)

    def _decline(self, view: ExchangeView) -> None:
        view.show_note(f"Cannot answer: {self.failure}", failed=True)

    def _start_answer(self, view: ExchangeView) -> None:
        view.show_note("Thinking…")
        self.answer(view, tuple(self.turns[-HISTORY_TURNS:]), self.mode, self.only)

    @work(thread=True, group="answer")
    def answer(self, view: ExchangeView, history: tuple[Turn, ...], mode: str, only: Filter | None) -> None:
        try:
            result = self.assistant.ask(view.exchange.question, mode=mode, history=history, only=only)
        except CiteqaError as exc:
            self.post_message(self.AnswerFailed(view, str(exc)))
            return
        except Exception as exc:  # shown in the conversation, never as a traceback
            self.post_message(self.AnswerFailed(view, f"{type(exc).__name__}: {first_line(exc)}"))
            return
        self.post_message(self.AnswerReady(view, result))

    @on(AnswerReady)
    def _answered(self, message: AnswerReady) -> None:
        view, answer = message.view, message.answer
        view.exchange.answer = answer
        view.refresh_exchange()
        if answer.answered:
            self.turns.append(Turn(answer.question, tuple(dict.fromkeys(c.article_id for c in answer.citations))))
        self.query_one(StatusLine).last_answer_ms = sum(answer.timings.values())
        if self.query_one(ConversationView).selected is view:
            self._show_sources(answer)

    @on(AnswerFailed)
    def _answer_failed(self, message: AnswerFailed) -> None:
        message.view.show_note(f"Error: {message.reason}", failed=True)

    # -- sources and verification ---------------------------------------------------------------------
    @on(ConversationView.SelectionChanged)
    def _selection_changed(self, message: ConversationView.SelectionChanged) -> None:
        answer = message.exchange.answer if message.exchange else None
        self._show_sources(answer)

    def _show_sources(self, answer: Answer | None) -> None:
        self.query_one(SourcesPane).show(answer, self.assistant.passage_around)

    def selected_answer(self) -> Answer | None:
        selected = self.query_one(ConversationView).selected
        return selected.exchange.answer if selected else None

    @on(CitationChosen)
    def open_citation(self, message: CitationChosen) -> None:
        answer = self.selected_answer()
        if answer is None or not 1 <= message.n <= len(answer.citations):
            self.notify(f"The selected answer has no citation [{message.n}].", severity="warning", markup=False)
            return
        citation = answer.citations[message.n - 1]
        row, text = self.assistant.article(citation.article_id)
        self.app.push_screen(ArticleScreen(citation, row.title, row.date, self._shown_path(row.path), text))

    def _shown_path(self, path: str) -> str:
        """The article's path from the corpus folder on (`seeds/000_….txt`): short, and the same on any machine."""
        corpus = self.assistant.corpus.resolve()
        try:
            return str(Path(corpus.name) / Path(path).relative_to(corpus))
        except ValueError:
            return path

    # -- actions (keys and the command palette) -------------------------------------------------------
    def action_reindex(self) -> None:
        if any(w.group == "answer" and w.is_running for w in self.workers):
            self.notify("Wait for the current answer, then re-index.", severity="warning", markup=False)
            return
        if self.indexing:
            # Cancelling the running index would leave its write lock to race the new one: queue it instead.
            self.reindex_requested = True
            self.notify("Indexing is under way; the corpus will be read again when it finishes.", markup=False)
            return
        self.is_ready = False
        self.query_one(StatusLine).state = "re-indexing"
        self.prepare(refresh=True)

    def set_filter(self, only: Filter | None) -> None:
        """Answer only from the articles `only` allows (None: from all), shown as chips in the status line."""
        self.only = only if only is not None and only.active else None
        chips = " ".join(self.only.chips()) if self.only else ""
        self.query_one(StatusLine).filters = chips
        self.notify(f"Answering only from {chips}" if chips else "Answering from every article", markup=False)

    def start_filter(self, field: str) -> None:
        """Put `field:` in the question box for the user to complete (`since:2020-01`, `source:reuters`); sent
        alone, it filters the questions that follow."""
        box = self.query_one(QuestionInput)
        box.value = f"{box.value.rstrip()} {field}:".lstrip()
        box.cursor_position = len(box.value)
        box.focus()

    def set_mode(self, mode: str) -> None:
        self.mode = mode
        self.query_one(StatusLine).mode = mode
        self.notify(f"Retrieval mode: {mode}", markup=False)

    def action_cycle_mode(self) -> None:
        self.set_mode(MODES[(MODES.index(self.mode) + 1) % len(MODES)])

    def action_clear(self) -> None:
        self.turns.clear()
        self.query_one(ConversationView).clear()

    def answers(self) -> list[Answer]:
        views = self.query_one(ConversationView).views
        return [v.exchange.answer for v in views if v.exchange.answer is not None]

    def action_export(self) -> Path | None:
        answers = self.answers()
        if not answers:
            self.notify("Nothing to export yet.", severity="warning", markup=False)
            return None
        path = self.export_dir / f"citeqa-conversation-{time.strftime('%Y%m%d-%H%M%S')}.md"
        path.write_text(conversation_markdown(answers, str(self.assistant.corpus)), encoding="utf-8")
        self.notify(f"Exported to {path}", markup=False)
        return path

    def action_copy_answer(self) -> None:
        answer = self.selected_answer()
        if answer is None:
            self.notify("Select an answer first.", severity="warning", markup=False)
            return
        self.app.copy_to_clipboard(answer_to_text(answer))
        self.notify("Answer copied.", markup=False)
