"""The status line: corpus, counts, model, retrieval mode, and the last answer's time."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from tui.text import literal_line


class StatusLine(Static):
    corpus: reactive[str] = reactive("")
    counts: reactive[str] = reactive("")
    model: reactive[str] = reactive("")
    mode: reactive[str] = reactive("hybrid")
    filters: reactive[str] = reactive("")
    state: reactive[str] = reactive("starting")
    last_answer_ms: reactive[float | None] = reactive(None)

    def render(self) -> Text:
        parts = [
            ("corpus ", self.corpus),
            ("", self.counts),
            ("model ", self.model.rsplit("/", 1)[-1]),
            ("mode ", self.mode),
            ("only ", self.filters),
            ("", self.state),
        ]
        if self.last_answer_ms is not None:
            parts.append(("last answer ", f"{self.last_answer_ms:.0f} ms"))
        line = Text()
        for label, value in parts:
            if not value:
                continue
            if line:
                line.append(" │ ", style="dim")
            line.append(label, style="dim")
            line.append_text(literal_line(value))
        return line
