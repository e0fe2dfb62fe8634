"""The chat screen: the conversation, its sources, the question box and the status line.

The screen routes. The widgets that start work own their workers and report with dataclass messages (elia's
idiom): the index panel checks, builds or refreshes the index and loads the model (`IndexPanel.Progress`,
`Ready`, `Failed`); the conversation answers (`ConversationView.Answered`, `AnswerFailed`); the folder watcher
posts `CorpusChanged`. The screen keeps what the questions are asked with as one frozen `ChatScope` (mode and
filter), replaced whole. Quitting cancels an indexing run between batches; the index write is atomic.
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
from textual.widgets import Footer, Input

from qa.answer.result import Answer
from qa.errors import UsageError
from qa.pipeline import Assistant
from qa.present.render import answer_to_text
from qa.retrieve.filters import Filter, split_inline
from qa.retrieve.followup import Turn
from qa.text.questions import validate_question
from tui.export import conversation_markdown
from tui.scope import ChatScope
from tui.screens.article import ArticleScreen
from tui.widgets.citation_keys import CitationChosen
from tui.widgets.conversation import ConversationView, Exchange, ExchangeView
from tui.widgets.index_panel import IndexPanel
from tui.widgets.question_input import QuestionInput
from tui.widgets.sources import SourcesPane
from tui.widgets.status import StatusLine

HISTORY_TURNS = 3
NARROW_WIDTH = 100


class ChatScreen(Screen):
    BINDINGS = [
        Binding("ctrl+r", "reindex", "Re-index"),
        Binding("ctrl+t", "cycle_mode", "Mode"),
        Binding("ctrl+l", "clear", "Clear"),
        Binding("ctrl+e", "export", "Export", priority=True),  # over the question box's "go to end"
        Binding("ctrl+y", "copy_answer", "Copy"),
        Binding("q", "app.quit", "Quit", show=False),
    ]

    class CorpusChanged(Message):
        """Articles were added, changed or removed in the corpus folder while the chat is open."""

    def __init__(self, assistant: Assistant, export_dir: Path) -> None:
        super().__init__()
        self.assistant = assistant
        self.export_dir = export_dir
        self.scope = ChatScope(assistant.settings.mode)  # the filter: since:/until:/source:/article: tokens
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
        yield IndexPanel(id="loading")
        yield QuestionInput(id="question")
        yield StatusLine(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#conversation").border_title = "Conversation"
        self.query_one("#sources").border_title = "Sources"
        status = self.query_one(StatusLine)
        status.corpus = self.assistant.corpus.name
        status.mode = self.scope.mode
        self._show_sources(None)
        self.query_one(QuestionInput).focus()
        self.prepare()
        self.watch_folder()

    def on_unmount(self) -> None:
        self._stop_watching.set()

    @property
    def mode(self) -> str:
        return self.scope.mode

    @property
    def indexing(self) -> bool:
        """The index panel is indexing (or loading the model)."""
        return self.query_one(IndexPanel).indexing

    def prepare(self, refresh: bool = False) -> None:
        """Check (or with `refresh`, re-read) the corpus, index what changed and load the model, on the panel's
        worker."""
        self.query_one(IndexPanel).prepare(self.assistant, refresh)

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

    # -- indexing and model loading (the index panel's worker) --------------------------------------------
    @on(IndexPanel.Progress)
    def _show_progress(self, message: IndexPanel.Progress) -> None:
        self.query_one(StatusLine).state = message.label.lower()

    @on(IndexPanel.Ready)
    def _index_ready(self, message: IndexPanel.Ready) -> None:
        self.is_ready, self.failure = True, None
        self.ready_s = time.perf_counter() - self.started_at
        status = self.query_one(StatusLine)
        status.counts = f"{message.info['articles']} articles · {message.info['chunks']} chunks"
        status.model = message.info["model"]
        status.state = "ready"
        waiting, self.pending = self.pending, []
        for view in waiting:
            self._start_answer(view)
        self._reindex_if_asked()

    @on(IndexPanel.Failed)
    def _not_ready(self, message: IndexPanel.Failed) -> None:
        self.is_ready, self.failure = False, message.reason
        self.query_one(StatusLine).state = "no index"
        conversation = self.query_one(ConversationView)
        conversation.add(Exchange("(citeqa)", note=f"Cannot use this corpus: {message.reason}", failed=True))
        for view in self.pending:
            self._decline(view)
        self.pending = []
        self._reindex_if_asked()

    def _reindex_if_asked(self) -> None:
        """A re-index asked for while indexing was under way starts once that run has finished."""
        if self.reindex_requested:
            self.reindex_requested = False
            self.call_after_refresh(self.action_reindex)

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
        conversation = self.query_one(ConversationView)
        conversation.start_answer(view, self.assistant, tuple(self.turns[-HISTORY_TURNS:]), self.scope)

    @on(ConversationView.Answered)
    def _answered(self, message: ConversationView.Answered) -> None:
        view, answer = message.view, message.answer
        if answer.answered:
            self.turns.append(Turn(answer.question, tuple(dict.fromkeys(c.article_id for c in answer.citations))))
        self.query_one(StatusLine).last_answer_ms = sum(answer.timings.values())
        if self.query_one(ConversationView).selected is view:
            self._show_sources(answer)

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
        if self.query_one(ConversationView).answering:
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
        self.scope = self.scope.with_filter(only)
        chips = self.scope.chips
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
        self._replace_scope(self.scope.with_mode(mode))

    def action_cycle_mode(self) -> None:
        self._replace_scope(self.scope.next_mode())

    def _replace_scope(self, scope: ChatScope) -> None:
        self.scope = scope
        self.query_one(StatusLine).mode = scope.mode
        self.notify(f"Retrieval mode: {scope.mode}", markup=False)

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
