"""Help: what citeqa chat does, and every key."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

HELP = """\
citeqa chat — answers are made of the articles' own sentences, each cited [n].

Ask      type a question, Enter; Up/Down recall earlier questions
Verify   1–9 (or click a source) open the article at cited sentence n; Escape returns
Move     Tab / Shift+Tab between conversation, sources and question;
         Up/Down in the conversation select an answer
Follow-ups  a question with "he", "they", "that"… uses the previous question and its articles

Ctrl+R  re-index the corpus          Ctrl+T  switch retrieval mode (hybrid → dense → bm25)
Ctrl+L  clear the conversation       Ctrl+E  export the conversation to Markdown
Ctrl+Y  copy the selected answer     Ctrl+P  command palette
F1      this help                    Ctrl+C or q  quit (q outside the question box)
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,q", "app.pop_screen", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(Text(HELP))
