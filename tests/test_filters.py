"""Filters by date, source and article: parsed strictly, applied inside retrieval, said in the answer."""

from datetime import date

import pytest

from qa.errors import UsageError
from qa.index.seam import ArticleRow
from qa.retrieve.filters import Filter, make_filter, parse_day, split_inline


def _row(article_id: str, day: str | None, source: str | None = None) -> ArticleRow:
    return ArticleRow(article_id, "title", day, "/p", "sha", 1, 1, source=source)


def test_dates_parse_to_the_start_or_the_end_of_a_period():
    assert parse_day("2020-02", "--since") == date(2020, 2, 1)
    assert parse_day("2020-02", "--until", end=True) == date(2020, 2, 29)
    assert parse_day("2020", "--until", end=True) == date(2020, 12, 31)
    for bad in ("2020-13", "yesterday", "20-01-01", "2020-02-30"):
        with pytest.raises(UsageError, match="YYYY-MM-DD"):
            parse_day(bad, "--since")
    with pytest.raises(UsageError, match="is after --until"):
        make_filter(since="2021", until="2020")


def test_a_filter_allows_by_date_source_and_id():
    only = make_filter(since="2020-01", until="2020-06", sources=["reuters"], articles=["2020/*"])
    assert only.allows(_row("2020/a", "2020-03-01", "Reuters UK"))
    assert not only.allows(_row("2020/a", "2020-07-01", "Reuters UK"))  # too late
    assert not only.allows(_row("2020/a", None, "Reuters UK"))  # no date: out of a date filter
    assert not only.allows(_row("2020/a", "2020-03-01", "AP"))
    assert not only.allows(_row("2019/a", "2020-03-01", "Reuters"))
    assert Filter(sources=("ap",)).allows(_row("x", None, "AP News"))  # no date needed without a date filter
    assert only.chips() == ["since:2020-01-01", "until:2020-06-30", "source:reuters", "article:2020/*"]


def test_inline_tokens_in_a_chat_question():
    text, only = split_inline('What did the ministry say? since:2020-01 source:"BBC News"')
    assert text == "What did the ministry say?" and only.since == date(2020, 1, 1) and only.sources == ("BBC News",)
    assert split_inline("What did he say about 10:30 meetings?") == ("What did he say about 10:30 meetings?", None)


def test_filtered_retrieval_still_fills_k_passages_from_the_allowed_articles(assistant):
    only = make_filter(until="2020-01")  # the seed dated 2020-01-16, not the one of 2020-08-18
    retrieval = assistant.search("Who did Lee In-young meet?", k=5, only=only)
    assert len(retrieval.passages) == 5
    assert {p.chunk.article_id for p in retrieval.passages} == {"004_cffa3cfd4d8230b1"}
    assert retrieval.notes == ("searched 1 of 2 articles (until:2020-01-31)",)
    nothing = assistant.ask("Who did Lee In-young meet?", only=make_filter(since="2030"))
    assert not nothing.answered and nothing.passages == []
    assert nothing.notes[0] == "no articles match the filter (since:2030-01-01)"


def test_a_date_filter_says_how_many_undated_articles_it_left_out(tmp_path):
    from qa.pipeline import Assistant

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "dated.txt").write_text("Harbour news\n2021-05-04\n\nThe ferry to Busan left at noon on Friday.\n")
    (corpus / "undated.txt").write_text("Harbour notes\n\nThe ferry to Jeju was cancelled because of the storm.\n")
    assistant = Assistant(corpus=corpus, index_dir=tmp_path / "i")
    assistant.ensure_index()
    answer = assistant.ask("Where did the ferry go?", only=make_filter(since="2021"))
    assert "1 article(s) without a date were left out by the date filter" in answer.notes
    assert {p.chunk.article_id for p in answer.passages} == {"dated"}
    assistant.close()
