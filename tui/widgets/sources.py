"""The sources pane: every citation of the selected answer, its sentence highlighted in its passage."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from qa.answer.result import Answer, Citation
from tui.text import highlighted, literal_line
from tui.widgets.citation_keys import CITATION_BINDINGS, CitationChosen, CitationKeysMixin

PassageFn = Callable[[Citation], tuple[str, int, int]]


class CitationCard(Static):
    """One citation: `[n] Title · source · date`, then the passage with the cited sentence highlighted."""

    def __init__(self, citation: Citation, passage: tuple[str, int, int]) -> None:
        super().__init__(classes="citation")
        self.citation = citation
        self.passage = passage

    def on_mount(self) -> None:
        c = self.citation
        header = Text(f"[{c.n}] ", style="bold cyan") + literal_line(c.title, "bold")
        if c.source:
            header.append_text(literal_line(f" · {c.source}", "dim"))
        if c.date:
            header.append(f" · {c.date}", style="dim")
        header.append("\n")
        header.append_text(literal_line(c.article_id, "dim"))
        header.append(f", page {c.page}\n" if c.page else f", line {c.line}\n", style="dim")
        body = highlighted(*self.passage)
        if c.also_in:
            body.append_text(Text("\n") + literal_line("also in: " + ", ".join(c.also_in), "dim italic"))
        self.update(header + body)

    def on_click(self) -> None:
        self.post_message(CitationChosen(self.citation.n))


class SourcesPane(CitationKeysMixin, VerticalScroll, can_focus=True):
    """Shows the citations of one answer; 1–9 or a click open the article at the cited sentence."""

    BINDINGS = CITATION_BINDINGS

    def show(self, answer: Answer | None, passage_of: PassageFn) -> None:
        self.remove_children()
        if answer is None:
            self.mount(Static(Text("Sources of the selected answer appear here.", style="dim")))
        elif not answer.citations:
            self.mount(Static(Text("No sources: the indexed articles do not answer this question.", style="dim")))
        else:
            self.mount_all(CitationCard(c, passage_of(c)) for c in answer.citations)
        self.scroll_home(animate=False)
