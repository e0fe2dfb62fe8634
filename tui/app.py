"""citeqa chat: a conversation with the articles; every answer's citations can be verified in place.

The app routes screens (the chat, an article, help) and offers the chat's commands in the palette; the chat
screen routes between its widgets, which own their workers (tui/screens/chat.py).
"""

from __future__ import annotations

import time
from pathlib import Path

from textual.app import App
from textual.binding import Binding
from textual.screen import Screen

from qa.pipeline import Assistant
from tui.commands import ChatCommands
from tui.screens.chat import ChatScreen
from tui.screens.help import HelpScreen
from tui.widgets.citation_keys import CITATION_BINDINGS
from tui.widgets.index_panel import IndexPanel


class CiteqaApp(App[None]):
    CSS_PATH = "citeqa.tcss"
    TITLE = "citeqa"
    COMMANDS = App.COMMANDS | {ChatCommands}
    BINDINGS = [
        Binding("ctrl+c", "quit", "Quit", priority=True),
        Binding("f1", "help", "Help"),
    ]

    def __init__(self, assistant: Assistant, export_dir: Path | None = None) -> None:
        super().__init__()
        self.chat = ChatScreen(assistant, export_dir or Path.cwd())
        self.started_at = time.perf_counter()
        self.first_paint_s: float | None = None

    @property
    def assistant(self) -> Assistant:
        return self.chat.assistant

    def get_default_screen(self) -> Screen:
        return self.chat

    def on_mount(self) -> None:
        self.call_after_refresh(self._painted)

    def _painted(self) -> None:
        self.first_paint_s = time.perf_counter() - self.started_at

    def action_help(self) -> None:
        """citeqa's keys that work where the focus is (the focused widget's bindings, then its screen's and the
        app's, as Textual resolves them; Textual's own editing keys left out), then the citation keys of the
        conversation and sources panes."""
        chain = [*(self.screen.focused.ancestors_with_self if self.screen.focused else (self.screen, self))]
        ours = {
            (b.action, b.description)
            for node in chain
            for cls in type(node).__mro__
            if cls.__module__.startswith("tui.")
            for b in cls.__dict__.get("BINDINGS", ())
            if isinstance(b, Binding)
        }
        active = [a.binding for a in self.screen.active_bindings.values()]
        bindings = [b for b in active if (b.action, b.description) in ours]
        bindings += [b for b in CITATION_BINDINGS[:1] if b.key not in {x.key for x in bindings}]
        keys = list(dict.fromkeys((self.get_key_display(b), b.description) for b in bindings if b.description))
        keys.append((self.get_key_display(Binding(self.COMMAND_PALETTE_BINDING, "")), "Command palette"))
        self.push_screen(HelpScreen(keys))

    def action_quit(self) -> None:
        self.chat.query_one(IndexPanel).cancel()
        self.exit()
