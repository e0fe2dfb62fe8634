"""Driving the chat with Textual's Pilot: wait for the app's threads, ask a question."""

from __future__ import annotations

import asyncio

from tui.widgets.conversation import ConversationView, ExchangeView
from tui.widgets.question_input import QuestionInput


async def wait_for(pilot, condition, timeout: float = 60.0) -> None:
    """Let the app work (threads included) until `condition()` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(0.05)


async def ask(pilot, question: str) -> ExchangeView:
    """Type `question`, press enter, and return the exchange once its answer is shown."""
    app = pilot.app
    before = len(app.chat.answers())
    app.query_one(QuestionInput).focus()
    app.query_one(QuestionInput).value = question
    await pilot.press("enter")
    await wait_for(pilot, lambda: len(app.chat.answers()) > before)
    return app.query_one(ConversationView).views[-1]
