"""Keys 1–9 open the article behind citation n; shared by the panes that show citations."""

from __future__ import annotations

from textual.binding import Binding
from textual.message import Message


class CitationChosen(Message):
    """The reader wants to verify citation `n` of the selected answer."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n


CITATION_BINDINGS = [
    Binding(str(n), f"open_citation({n})", f"Open [{n}]", show=n == 1, key_display="1-9") for n in range(1, 10)
]


class CitationKeysMixin:
    """Mixed into a focusable widget: `1`–`9` post CitationChosen."""

    def action_open_citation(self, n: int) -> None:
        self.post_message(CitationChosen(n))
