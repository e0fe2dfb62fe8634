"""The conversation pane: questions and answers, newest at the bottom; one answer is selected at a time. It
answers the questions asked in it on its own worker and reports each outcome with a message (elia's idiom)."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

from qa.answer.result import Answer
from qa.errors import CiteqaError, first_line
from qa.pipeline import Assistant
from qa.retrieve.followup import Turn
from tui.scope import ChatScope
from tui.text import literal
from tui.widgets.citation_keys import CITATION_BINDINGS, CitationKeysMixin


@dataclass
class Exchange:
    """One question and what became of it: waiting, answering, answered, or failed."""

    question: str
    answer: Answer | None = None
    note: str = "Thinking…"
    failed: bool = False


def answer_text(exchange: Exchange) -> Text:
    """The answer with its [n] markers styled; article text stays literal."""
    if exchange.answer is None:
        return literal(exchange.note, "italic" if not exchange.failed else "bold red")
    answer = exchange.answer
    if not answer.citations:
        return literal(answer.text, "italic")
    shown = Text()
    if answer.span:  # the exact answer first, so the line reads like an answer: "30% — The group will own…"
        shown.append_text(literal(" ".join(answer.span.text.split()), "bold"))
        shown.append(" — ")
    for citation in answer.citations:
        shown.append_text(literal(" ".join(citation.sentence.split())))
        shown.append(f" [{citation.n}] ", style="bold cyan")
    for note in answer.notes:  # relative dates resolved against the article's date
        shown.append("\n")
        shown.append_text(literal(f"Note: {note}", "dim italic"))
    return shown


class ExchangeView(Static):
    """One exchange; clicking it selects it (its sources show in the sources pane)."""

    @dataclass
    class Selected(Message):
        view: ExchangeView

    def __init__(self, exchange: Exchange) -> None:
        super().__init__(classes="exchange")
        self.exchange = exchange

    def on_mount(self) -> None:
        self.refresh_exchange()

    def refresh_exchange(self) -> None:
        question = Text("Q ", style="bold") + literal(self.exchange.question, "bold")
        body = answer_text(self.exchange)
        self.update(question + Text("\n") + body)

    def show_note(self, note: str, failed: bool = False) -> None:
        """Show a state instead of an answer: waiting, thinking, declined or failed."""
        self.exchange.note, self.exchange.failed = note, failed
        self.refresh_exchange()

    def on_click(self) -> None:
        self.post_message(self.Selected(self))


class ConversationView(CitationKeysMixin, VerticalScroll, can_focus=True):
    """Scrolls the exchanges; up/down select an answer, 1–9 open its citations."""

    BINDINGS = [
        Binding("up", "select(-1)", "Previous answer", show=False),
        Binding("down", "select(1)", "Next answer", show=False),
        *CITATION_BINDINGS,
    ]

    @dataclass
    class SelectionChanged(Message):
        exchange: Exchange | None

    @dataclass
    class Answered(Message):
        view: ExchangeView
        answer: Answer

    @dataclass
    class AnswerFailed(Message):
        view: ExchangeView
        reason: str

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.selected: ExchangeView | None = None

    @property
    def views(self) -> list[ExchangeView]:
        return list(self.query(ExchangeView))

    def add(self, exchange: Exchange) -> ExchangeView:
        view = ExchangeView(exchange)
        self.mount(view)
        self.choose(view)
        return view

    def choose(self, view: ExchangeView | None) -> None:
        if self.selected is not None:
            self.selected.remove_class("-selected")
        self.selected = view
        if view is not None:
            view.add_class("-selected")
            self.call_after_refresh(self.scroll_to_widget, view, animate=False)
        self.post_message(self.SelectionChanged(view.exchange if view else None))

    def clear(self) -> None:
        self.selected = None
        self.remove_children()
        self.post_message(self.SelectionChanged(None))

    def action_select(self, step: int) -> None:
        views = self.views
        if not views:
            return
        index = views.index(self.selected) if self.selected in views else len(views)
        self.choose(views[max(0, min(len(views) - 1, index + step))])

    def on_exchange_view_selected(self, message: ExchangeView.Selected) -> None:
        self.choose(message.view)

    # -- answering (thread worker) --------------------------------------------------------------------
    @property
    def answering(self) -> bool:
        return any(w.group == "answer" and w.is_running for w in self.workers)

    def start_answer(
        self, view: ExchangeView, assistant: Assistant, history: tuple[Turn, ...], scope: ChatScope
    ) -> None:
        view.show_note("Thinking…")
        self.answer(view, assistant, history, scope)

    @work(thread=True, group="answer")
    def answer(self, view: ExchangeView, assistant: Assistant, history: tuple[Turn, ...], scope: ChatScope) -> None:
        try:
            result = assistant.ask(view.exchange.question, mode=scope.mode, history=history, only=scope.only)
        except CiteqaError as exc:
            self.post_message(self.AnswerFailed(view, str(exc)))
            return
        except Exception as exc:  # shown in the conversation, never as a traceback
            self.post_message(self.AnswerFailed(view, f"{type(exc).__name__}: {first_line(exc)}"))
            return
        self.post_message(self.Answered(view, result))

    @on(Answered)
    def _show_answer(self, message: Answered) -> None:
        message.view.exchange.answer = message.answer
        message.view.refresh_exchange()

    @on(AnswerFailed)
    def _show_failure(self, message: AnswerFailed) -> None:
        message.view.show_note(f"Error: {message.reason}", failed=True)
