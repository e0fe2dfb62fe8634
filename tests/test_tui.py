"""The chat UI driven with Textual's Pilot on the real seeds and the real model."""

from __future__ import annotations

import pytest

from qa.answer.result import NOT_ANSWERED
from qa.pipeline import Assistant
from qa.present.render import lead_line
from tests.helpers.chat import ask, wait_for
from tui.app import CiteqaApp
from tui.commands import ChatCommands
from tui.screens.article import ArticleScreen
from tui.screens.help import HelpScreen
from tui.widgets.conversation import ConversationView
from tui.widgets.question_input import QuestionInput
from tui.widgets.sources import CitationCard, SourcesPane
from tui.widgets.status import StatusLine

SIZE = (110, 34)


def highlighted_parts(content) -> list[str]:
    """The stretches of rendered text shown in reverse video (the cited sentence)."""
    return [content.plain[span.start : span.end] for span in content.spans if getattr(span.style, "reverse", False)]


def _article_args(app) -> tuple:
    answer = app.chat.answers()[-1]
    return (answer.citations[0], "title", None, "path", "text")


@pytest.fixture
def app(seed_index_dir, tmp_path):
    return CiteqaApp(Assistant(index_dir=seed_index_dir), export_dir=tmp_path)


async def test_answers_with_citations_and_highlighted_sources(app):
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.chat.is_ready)
        assert "2 articles" in app.query_one(StatusLine).counts
        view = await ask(pilot, "Who did Unification Minister Lee In-young meet?")
        shown = view.render().plain
        assert "Q Who did Unification Minister Lee In-young meet?" in shown
        assert "Harry Harris" in shown and "[1]" in shown
        cards = list(app.query(CitationCard))
        assert cards and cards[0].citation.n == 1 and "Harry Harris" in cards[0].citation.sentence
        assert highlighted_parts(cards[0].render()) == [cards[0].citation.sentence]

        view = await ask(pilot, "Where did Pompeo give a speech on Monday?")
        card = app.query(CitationCard).first()
        assert card.citation.article_id == "004_cffa3cfd4d8230b1"
        assert "Silicon Valley" in highlighted_parts(card.render())[0]
        assert app.query_one(StatusLine).last_answer_ms is not None


async def test_unanswerable_question_says_so(app):
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.chat.is_ready)
        view = await ask(pilot, "What is the recipe for bibimbap?")
        assert NOT_ANSWERED in view.render().plain
        assert "do not answer this question" in app.query_one(SourcesPane).query("Static").first().render().plain


async def test_follow_up_retrieves_from_the_same_article(app):
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.chat.is_ready)
        first = await ask(pilot, "Who did Lee In-young meet?")
        assert "Harry Harris" in first.exchange.answer.citations[0].sentence
        follow_up = await ask(pilot, "What did he say about the working group?")
        answer = follow_up.exchange.answer
        assert answer.answered
        assert {c.article_id for c in answer.citations} == {"000_7e63e6485bed1ddb"}
        assert {p.chunk.article_id for p in answer.passages[:3]} == {"000_7e63e6485bed1ddb"}


async def test_number_keys_open_the_article_at_the_cited_sentence(app):
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.chat.is_ready)
        view = await ask(pilot, "What did the US Department of the Treasury do on Tuesday?")
        citations = view.exchange.answer.citations
        app.query_one(ConversationView).focus()
        for n, citation in enumerate(citations, 1):
            await pilot.press(str(n))
            await pilot.pause(0.1)
            screen = app.screen
            assert isinstance(screen, ArticleScreen) and screen.citation == citation
            cited = screen.query_one(".cited")
            assert highlighted_parts(cited.render()) == [citation.sentence]
            body = screen.query_one("#article-body")
            assert cited.region.overlaps(body.region)  # scrolled into view
            await pilot.press("escape")
            assert not isinstance(app.screen, ArticleScreen)
        await pilot.press("9")  # no such citation: a notice, not a crash
        assert not isinstance(app.screen, ArticleScreen)


async def test_click_on_a_source_opens_the_article(app):
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.chat.is_ready)
        await ask(pilot, "Where did Pompeo give a speech on Monday?")
        await pilot.click(CitationCard)
        await pilot.pause(0.1)
        assert isinstance(app.screen, ArticleScreen)


async def test_tab_moves_between_panes(app):
    async with app.run_test(size=SIZE) as pilot:
        focused = []
        for _ in range(3):
            await pilot.press("tab")
            focused.append(app.focused.id)
        assert {"conversation", "sources", "question"} <= set(focused)


async def test_input_history(app):
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.chat.is_ready)
        await ask(pilot, "Who did Lee In-young meet?")
        await ask(pilot, "Where did Pompeo give a speech on Monday?")
        box = app.query_one(QuestionInput)
        box.focus()
        await pilot.press("up")
        assert box.value == "Where did Pompeo give a speech on Monday?"
        await pilot.press("up")
        assert box.value == "Who did Lee In-young meet?"
        await pilot.press("down", "down")
        assert box.value == ""


async def test_export_writes_markdown_with_footnotes(app, tmp_path):
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.chat.is_ready)
        view = await ask(pilot, "Where did Pompeo give a speech on Monday?")
        path = app.chat.action_export()
        citation = view.exchange.answer.citations[0]
        markdown = path.read_text(encoding="utf-8")
        sentence = " ".join(citation.sentence.split())
        assert "## 1. Where did Pompeo give a speech on Monday?" in markdown
        assert f"{sentence}[^1-1]" in markdown
        assert (
            f"[^1-1]: Seoul reaffirms focus on NK engagement, 2020-01-16 (004_cffa3cfd4d8230b1, line "
            f"{citation.line}): “{sentence}”"
        ) in markdown


async def test_question_before_ready_waits_then_is_answered(seed_index_dir, tmp_path):
    app = CiteqaApp(Assistant(index_dir=seed_index_dir), export_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.chat.is_ready)
        app.chat.is_ready = False  # as if indexing were running again
        app.query_one(QuestionInput).value = "Who did Lee In-young meet?"
        await pilot.press("enter")
        view = app.query_one(ConversationView).views[-1]
        assert "Waiting for the index" in view.render().plain
        app.chat.prepare()
        await wait_for(pilot, lambda: app.chat.answers())
        assert "Harry Harris" in view.render().plain


async def test_empty_corpus_is_a_message_not_a_crash(tmp_path):
    corpus = tmp_path / "empty"
    corpus.mkdir()
    app = CiteqaApp(Assistant(corpus=corpus, index_dir=tmp_path / "idx"), export_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.chat.failure is not None and app.query_one(ConversationView).views)
        view = app.query_one(ConversationView).views[0]
        await wait_for(pilot, lambda: "no readable articles" in view.render().plain)  # once the view has painted
        app.query_one(QuestionInput).value = "Anything?"
        await pilot.press("enter")  # the reply is posted by the chat, not by the key press: wait for it
        await wait_for(pilot, lambda: "Cannot answer" in app.query_one(ConversationView).views[-1].render().plain)


async def test_pipeline_error_is_shown_in_the_conversation(app, monkeypatch):
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.chat.is_ready)

        def broken(*args, **kwargs):
            raise RuntimeError("disk on fire")

        monkeypatch.setattr(app.assistant, "ask", broken)
        app.query_one(QuestionInput).value = "Who did Lee In-young meet?"
        await pilot.press("enter")
        view = app.query_one(ConversationView).views[-1]
        await wait_for(pilot, lambda: view.exchange.failed)
        assert "Error: RuntimeError: disk on fire" in view.render().plain
        assert app.is_running


INJECTION = (
    "Markup test article\n\n"
    "The council said [bold red]nothing[/] about [link=https://example.com]the link[/link] or "
    "[@click=app.quit]quitting[/] today. "
    "The mayor typed \x1b[31mred text\x1b[0m and \x1b]8;;https://example.com\x07a hyperlink\x1b]8;;\x07 "
    "into the minutes.\n"
)


async def test_markup_and_ansi_in_articles_and_questions_render_literally(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "markup.txt").write_text(INJECTION, encoding="utf-8")
    app = CiteqaApp(Assistant(corpus=corpus, index_dir=tmp_path / "idx"), export_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.chat.is_ready)
        view = await ask(pilot, "What did the council say about [bold]the link[/bold] and quitting?")
        shown = view.render().plain
        assert "[bold]the link[/bold]" in shown  # the question, literally
        assert "[bold red]nothing[/] about [link=https://example.com]the link[/link]" in shown
        assert "[@click=app.quit]quitting[/]" in shown
        view = await ask(pilot, "What did the mayor type into the minutes?")
        assert "␛[31mred text␛[0m" in view.render().plain and "\x1b" not in view.render().plain
        card = app.query(CitationCard).first()
        assert "␛[31m" in card.render().plain
        await pilot.click(CitationCard)  # clicking the text with [@click=app.quit] must not quit
        await pilot.press("1")
        await pilot.pause(0.1)
        assert app.is_running and isinstance(app.screen, ArticleScreen)
        assert "[@click=app.quit]" in app.screen.query(".paragraph").last().render().plain


async def test_small_terminal_stacks_the_panes(app):
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.chat.is_ready)
        await ask(pilot, "Who did Lee In-young meet?")
        assert app.screen.has_class("narrow")
        conversation, sources = app.query_one("#conversation"), app.query_one("#sources")
        assert conversation.region.y < sources.region.y  # stacked, both visible
        assert sources.region.height > 2 and conversation.region.height > 2


async def test_quit_while_indexing_keeps_the_index(seed_copy, tmp_path):
    """Ctrl+C while an update embeds: the run stops at its next batch and the old index is the one left. The
    update is held inside its embedding until the quit has been pressed, so the test never races it."""
    import threading

    index_dir = tmp_path / "idx"
    app = CiteqaApp(Assistant(corpus=seed_copy, index_dir=index_dir), export_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.chat.is_ready)
    for i in range(30):
        (seed_copy / f"extra{i}.txt").write_text(f"Article {i}. " + "Talks in Seoul went on. " * 40, encoding="utf-8")
    assistant = Assistant(corpus=seed_copy, index_dir=index_dir)
    embedding, release, finished = threading.Event(), threading.Event(), threading.Event()
    encode, ended = assistant.embedder.encode, []

    def held(texts, progress=None):
        embedding.set()
        release.wait(30)
        try:
            return encode(texts, progress)
        except BaseException as exc:
            ended.append(type(exc).__name__)
            raise
        finally:
            finished.set()

    assistant.embedder.encode = held
    app = CiteqaApp(assistant, export_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, embedding.is_set)
        await pilot.press("ctrl+c")
        threading.Timer(0.5, release.set).start()  # the update goes on only once the quit is under way
    assert finished.wait(30) and ended == ["IndexingCancelled"]  # stopped at its first batch, before any write
    reopened = Assistant(corpus=seed_copy, index_dir=index_dir)
    assert reopened.index.counts["articles"] == 2
    reopened.close()


async def test_reindex_picks_up_a_new_article(seed_copy, tmp_path):
    app = CiteqaApp(Assistant(corpus=seed_copy, index_dir=tmp_path / "idx"), export_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.chat.is_ready)
        (seed_copy / "busan.txt").write_text("Harris visited the port city of Busan on Friday.", encoding="utf-8")
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: app.chat.is_ready and "3 articles" in app.query_one(StatusLine).counts)
        view = await ask(pilot, "Which port city did Harris visit on Friday?")
        assert view.exchange.answer.citations[0].article_id == "busan"


async def test_reindex_during_the_first_index_is_queued_not_stuck(seed_copy, tmp_path):
    import threading

    assistant = Assistant(corpus=seed_copy, index_dir=tmp_path / "idx")
    first_index_may_finish = threading.Event()
    build = assistant.ensure_index

    def slow_first_index(progress):  # the first index is still being built when Ctrl+R comes
        first_index_may_finish.wait(60)
        return build(progress)

    assistant.ensure_index = slow_first_index
    app = CiteqaApp(assistant, export_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.chat.indexing)
        (seed_copy / "busan.txt").write_text("Harris visited the port city of Busan on Friday.", encoding="utf-8")
        await pilot.press("ctrl+r")
        assert app.chat.reindex_requested
        first_index_may_finish.set()
        # two builds with the real model: on a loaded fresh machine (CI, 2026-12-03) they outlasted 60 s; a reindex
        # that is stuck still never finishes
        await wait_for(
            pilot,
            lambda: app.chat.is_ready and not app.chat.reindex_requested and not app.chat.indexing,
            timeout=180.0,
        )
        assert app.chat.failure is None and "3 articles" in app.query_one(StatusLine).counts


async def test_an_overlong_question_is_refused_not_cut(app):
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.chat.is_ready)
        box = app.query_one(QuestionInput)
        box.value = "Who met Harris? " * 200
        box.focus()
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert app.query_one(ConversationView).views == []
        assert box.value == "Who met Harris? " * 200  # kept, to be shortened
        assert any("the limit is 2,000" in str(n.message) for n in app._notifications)


async def test_mode_copy_clear_and_palette_commands(app):
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.chat.is_ready)
        view = await ask(pilot, "Where did Pompeo give a speech on Monday?")
        app.query_one(ConversationView).focus()
        await pilot.press("ctrl+y")
        assert app.clipboard.startswith(lead_line(view.exchange.answer)) and "[1] Seoul reaffirms" in app.clipboard
        await pilot.press("ctrl+t")
        assert app.chat.mode == "dense" and app.query_one(StatusLine).mode == "dense"
        view = await ask(pilot, "Where did Pompeo give a speech on Monday?")
        assert view.exchange.answer.mode == "dense"
        provider = ChatCommands(app.chat)
        names = [name for name, _, _ in provider.commands()]
        assert names == [
            "Re-index",
            "Retrieval mode: dense",
            "Retrieval mode: bm25",
            "Retrieval mode: hybrid",
            "Clear conversation",
            "Filter by since",
            "Filter by until",
            "Filter by source",
            "Filter by article",
            "Clear filters",
            "Export conversation",
            "Copy answer",
            "Help",
        ]
        hits = [hit async for hit in provider.search("bm25")]
        assert len(hits) == 1 and "bm25" in str(hits[0].match_display)
        hits[0].command()  # what choosing it in the palette does
        assert app.chat.mode == "bm25"
        assert [name for name, _, _ in ChatCommands(ArticleScreen(*_article_args(app))).commands()] == []
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        listed = dict(app.screen.keys)  # what the help table shows, taken from the bindings
        assert listed["^r"] == "Re-index" and listed["^e"] == "Export" and listed["^p"] == "Command palette"
        assert listed["f1"] == "Help" and listed["1-9"].startswith("Open") and listed["↑"] == "Previous question"
        await pilot.press("escape")
        await pilot.press("ctrl+l")
        assert app.query_one(ConversationView).views == [] and app.chat.turns == []


async def test_filter_tokens_in_a_question_scope_it_and_show_as_chips(app):
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.chat.is_ready)
        view = await ask(pilot, "Who did Lee In-young meet? until:2020-01")
        assert view.exchange.question == "Who did Lee In-young meet?"
        assert {p.chunk.article_id for p in view.exchange.answer.passages} == {"004_cffa3cfd4d8230b1"}
        assert app.query_one(StatusLine).filters == "until:2020-01-31"
        app.chat.set_filter(None)  # what the palette's "Clear filters" does
        view = await ask(pilot, "Who did Lee In-young meet?")
        assert "Harry Harris" in view.exchange.answer.citations[0].sentence
        assert app.query_one(StatusLine).filters == ""
        (hit,) = [hit async for hit in ChatCommands(app.chat).search("filter by until")]
        hit.command()  # the palette's "Filter by until" starts the token in the question box
        box = app.query_one(QuestionInput)
        assert box.value == "until:" and box.has_focus
        await pilot.press(*"2020-01", "enter")
        assert app.query_one(StatusLine).filters == "until:2020-01-31" and box.value == ""


async def test_the_chat_refreshes_on_its_own_when_the_folder_changes(seed_copy, tmp_path):
    app = CiteqaApp(Assistant(corpus=seed_copy, index_dir=tmp_path / "idx"), export_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.chat.is_ready)
        await pilot.pause(0.3)  # the watcher is up
        (seed_copy / "busan.txt").write_text("Harris visited the port city of Busan on Friday.", encoding="utf-8")
        await wait_for(pilot, lambda: "3 articles" in app.query_one(StatusLine).counts, timeout=30)
        view = await ask(pilot, "Which port city did Harris visit on Friday?")
        assert view.exchange.answer.citations[0].article_id == "busan"
