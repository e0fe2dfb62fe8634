"""The whole article, scrolled to a cited sentence and highlighting it; escape goes back."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from qa.answer.result import Citation
from qa.text.sentences import paragraph_spans
from tui.text import highlighted, literal, literal_line


class ArticleScreen(Screen):
    BINDINGS = [Binding("escape", "app.pop_screen", "Back"), Binding("q", "app.pop_screen", "Back", show=False)]

    def __init__(self, citation: Citation, title: str, date: str | None, path: str, text: str) -> None:
        super().__init__()
        self.citation = citation
        self.article_title = title
        self.date = date
        self.path = path
        self.text = text

    def compose(self) -> ComposeResult:
        header = Text(f"[{self.citation.n}] ", style="bold cyan") + literal_line(self.article_title, "bold")
        if self.citation.source:
            header.append_text(literal_line(f" · {self.citation.source}", "dim"))
        if self.date:
            header.append(f" · {self.date}", style="dim")
        header.append("\n")
        header.append_text(
            literal_line(self.path + (f", page {self.citation.page}" if self.citation.page else ""), "dim")
        )
        yield Static(header, id="article-header")
        with VerticalScroll(id="article-body"):
            for start, end in paragraph_spans(self.text):
                paragraph = self.text[start:end]
                if start <= self.citation.start < end:
                    yield Static(
                        highlighted(paragraph, self.citation.start - start, self.citation.end - start),
                        classes="paragraph cited",
                    )
                else:
                    yield Static(literal(paragraph), classes="paragraph")
        yield Footer()

    def on_mount(self) -> None:
        body = self.query_one("#article-body", VerticalScroll)
        body.focus()
        cited = self.query(".cited")
        if cited:
            self.call_after_refresh(body.scroll_to_widget, cited.first(), center=True, animate=False)
