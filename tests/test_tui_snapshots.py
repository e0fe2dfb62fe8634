"""Snapshot tests of the chat UI (pytest-textual-snapshot); update with `pytest --snapshot-update` and review."""

from __future__ import annotations

import pytest

from qa.pipeline import Assistant
from tests.helpers.chat import ask, wait_for
from tui.app import CiteqaApp
from tui.widgets.conversation import ConversationView
from tui.widgets.status import StatusLine

SIZE = (110, 34)


@pytest.fixture
def app(seed_index_dir, tmp_path):
    return CiteqaApp(Assistant(index_dir=seed_index_dir), export_dir=tmp_path)


async def _answer(pilot) -> None:
    await wait_for(pilot, lambda: pilot.app.chat.is_ready)
    await ask(pilot, "Who did Unification Minister Lee In-young meet?")
    pilot.app.query_one(StatusLine).last_answer_ms = 42  # timings vary run to run; the snapshot must not
    await pilot.pause()


def test_main_screen_with_an_answer(snap_compare, app):
    assert snap_compare(app, terminal_size=SIZE, run_before=_answer)


def test_article_view(snap_compare, app):
    async def open_first_citation(pilot) -> None:
        await _answer(pilot)
        pilot.app.query_one(ConversationView).focus()
        await pilot.press("1")
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=SIZE, run_before=open_first_citation)
