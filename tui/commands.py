"""The chat's actions in the command palette (Ctrl+P), next to Textual's own."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from qa.retrieve.retriever import MODES
from tui.screens.chat import ChatScreen

# The filter tokens a question may carry (qa.retrieve.filters.split_inline), offered in the palette.
FILTER_FIELDS = {
    "since": "Answer only from articles dated on or after a day: since:2020-01-15, since:2020-01 or since:2020",
    "until": "Answer only from articles dated on or before a day: until:2020-06-30, until:2020-06 or until:2020",
    "source": "Answer only from one outlet: source:reuters (part of the name, any case; quote names with spaces)",
    "article": "Answer only from articles whose id matches: article:2020/*",
}


class ChatCommands(Provider):
    """Re-index, retrieval modes, filters, clear, export, copy and help, offered while the chat screen is open."""

    def commands(self) -> Iterator[tuple[str, str, Callable[[], object]]]:
        chat = self.screen
        if not isinstance(chat, ChatScreen):
            return
        yield "Re-index", "Index new and changed articles of the corpus", chat.action_reindex
        for mode in MODES:
            yield f"Retrieval mode: {mode}", f"Answer with {mode} retrieval", partial(chat.set_mode, mode)
        yield "Clear conversation", "Start over", chat.action_clear
        for field, help_text in FILTER_FIELDS.items():
            yield f"Filter by {field}", help_text, partial(chat.start_filter, field)
        yield (
            "Clear filters",
            "Answer from every article again (since:, until:, source:, article:)",
            partial(chat.set_filter, None),
        )
        yield "Export conversation", "Write it to Markdown with footnotes", chat.action_export
        yield "Copy answer", "Copy the selected answer and its sources", chat.action_copy_answer
        yield "Help", "Keys and how citeqa answers", self.app.action_help

    async def discover(self) -> Hits:
        for name, help_text, callback in self.commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self.commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
