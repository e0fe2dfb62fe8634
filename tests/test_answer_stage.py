"""The answer stage's parts on constructed text: question kinds and answer types, typed expressions, spans and
their offsets, relative dates, and the context a candidate sentence carries (headline, preceding sentences)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qa.answer.candidates import gather, mentions_of, terms_of
from qa.answer.span import answer_span, resolve_relative_dates
from qa.index.local.store import IndexDir, IndexParams
from qa.retrieve.retriever import Query, Retriever
from qa.text.lexical import term_set
from qa.text.mentions import _CLAUSES, _PATTERNS, _claim, decode_mentions, encode_mentions, find_mentions
from qa.text.questions import analyse_question, predicate_text
from qa.text.sentences import without_controls
from tests.conftest import SEEDS
from tests.helpers.fakes import HashingEmbedder


@pytest.mark.parametrize(
    ("question", "kind", "first_type"),
    [
        ("Who did the minister meet on Tuesday?", "who", "name"),
        ("Whose research did the technology grow out of?", "who", "name"),
        ("When will the report be released?", "when", "date"),
        ("In what year did Bosvelt move to Manchester City?", "what", "year"),
        ("On what date does Cat Deeley bow out?", "what", "date"),
        ("Where were the first awards held?", "where", "place"),
        ("In which city does the viewer live?", "which", "place"),
        ("How much did one punter stake on the next Bond?", "how much", "money"),
        ("What share of the project will Shell own?", "what", "money"),
        ("How many complaints has the regulator received?", "how many", "number"),
        ("For how long was the founder interviewed?", "how long", "duration"),
        ("How old was the screenwriter when she died?", "how old", "age"),
        ("Which lawyer told the court about the transfer?", "which", "name"),
        ("Why is the research centre closing?", "why", "reason"),
        ("What led the singer to join the single?", "what", "reason"),
        ("To what did Edu compare the tunnel scenes?", "what", "quote"),
        ("Do individual tours violate the sanctions?", "yes/no", None),
    ],
)
def test_question_kind_and_expected_answer_type(question, kind, first_type):
    analysis = analyse_question(question)
    assert analysis.kind == kind
    assert (analysis.expects[0] if analysis.expects else None) == first_type


def test_question_focus_and_constraints():
    analysis = analyse_question("Which act won the 2005 Mercury Music Prize?")
    assert analysis.focus == ("act",) and analysis.years == ("2005",)
    assert {"2005", "mercuri", "music", "prize"} <= set(analysis.constraints)
    assert predicate_text("Who hosted Radio 1's chart show before JK and Joel took it over?") == (
        "Who hosted 's chart show before took it over?"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The UK-Dutch group will own 30% of the project.", [("name", "UK-Dutch"), ("percent", "30%")]),
        ("It paid £4,250 for the sofa and $6bn for the plant.", [("money", "£4,250"), ("money", "$6bn")]),
        (
            "He became president in 2002 after five hours of talks.",
            [("year", "2002"), ("reason", "after five hours of talks"), ("duration", "five hours")],
        ),
        ('He said: "Nothing I have not seen before."', [("quote", '"Nothing I have not seen before."')]),
        ("Deeley will host her last show on 5 March.", [("name", "Deeley"), ("date", "5 March")]),
        ("Mr Aitken, who lives in Cleveland, sued NBC.", [("name", "Aitken"), ("place", "Cleveland"), ("name", "NBC")]),
        ("It has received 45,000 complaints.", [("number", "45,000")]),
        (
            "Tutu, 73, said one of the 29-year-old men was aged 30.",
            [("name", "Tutu"), ("age", "73"), ("age", "29-year-old"), ("age", "aged 30")],
        ),
    ],
)
def test_typed_mentions(text, expected):
    assert [(m.type, m.text) for m in find_mentions(text)] == expected


@given(st.text(max_size=300))
def test_mention_offsets_round_trip(text):
    for mention in find_mentions(text):
        assert text[mention.start : mention.end] == mention.text


_NEWS_WORDS = (
    "Mr Smith", "the Bank of England", "in Cleveland", "£4,250", "$6bn", "30%", "per cent", "2002", "29-year-old",
    "aged 30", "five", "twenty-one", "a million", "one", "half", "hours", "years", "Tuesday", "5 March", "May",
    "last week", "this year", "yesterday", "because of", "after", "due to", "so that", "“quoted words here”",
    '"more words quoted"', "said", "the", "and", ",", ".", "١٢٣", "ſix", "K", "MONTHS", "Sept.", "_one_",
)  # fmt: skip


@given(st.lists(st.sampled_from(_NEWS_WORDS) | st.text(max_size=12), max_size=30).map(" ".join))
def test_skipping_patterns_by_their_words_never_changes_the_mentions(text):
    """find_mentions runs only the patterns whose words (or digits) occur; running all of them finds the same
    (on the text as find_mentions reads it, control sequences blanked)."""
    where = [(m.type, m.start, m.end) for m in find_mentions(text)]
    assert where == [(m.type, m.start, m.end) for m in _claim(without_controls(text), _PATTERNS, _CLAUSES)]


def test_answer_span_is_the_new_expression_of_the_asked_type():
    question = analyse_question("What share of its $6bn Qatar gas project will Shell own?")
    sentence = "The UK-Dutch group will own 30% of the $6bn project, it said on Tuesday."
    span = answer_span(question, sentence)
    assert (span.type, span.text) == ("percent", "30%")
    assert sentence[span.start : span.end] == span.text
    assert answer_span(analyse_question("Why did Shell sign the deal?"), sentence) is None
    # the amount the question already names is not the answer
    assert answer_span(analyse_question("How much is the Qatar project worth?"), "It is worth $6bn.").text == "$6bn"
    assert answer_span(analyse_question("How much did Shell pay for the $6bn project?"), "It paid $6bn.") is None


def test_relative_dates_are_resolved_in_notes():
    sentence = "He took office last month and met Harris on Tuesday; talks resume next year."
    notes = resolve_relative_dates(sentence, "2020-08-18")
    assert "“last month” = July 2020 (article dated 2020-08-18)" in notes
    assert "“Tuesday” = 2020-08-18, the article's own date (article dated 2020-08-18)" in notes
    assert "“next year” = 2021 (article dated 2020-08-18)" in notes
    assert resolve_relative_dates(sentence, None) == []


ARTICLE = """Qatar and Shell in $6bn gas deal

Shell has signed a $6bn deal with Qatar to build a plant that will turn natural gas into diesel.

The UK-Dutch group will own 30% of the project, with Qatar Petroleum holding the rest.

The plant is expected to start production in 2009.
"""


def test_candidates_carry_their_context_and_the_headline_is_flagged(tmp_path):
    """Context assembly, with the hashing embedder (this is about structure, not meaning)."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "shell.txt").write_text(ARTICLE, encoding="utf-8")
    embedder = HashingEmbedder()
    IndexDir(tmp_path / "idx").update(corpus, IndexParams(embedder.model_id), embedder)
    index = IndexDir(tmp_path / "idx").open()
    retriever = Retriever(index)
    question = analyse_question("What share of the project will Shell own?")
    vector = embedder.encode([question.text])[0]
    passages = retriever.search(Query(question.text, list(question.terms), vector), k=3)
    candidates = {c.sentence.text: c for c in gather(index, passages, vector, None, list(question.terms))}
    headline = candidates["Qatar and Shell in $6bn gas deal"]
    lead = candidates[
        "Shell has signed a $6bn deal with Qatar to build a plant that will turn natural gas into diesel."
    ]
    group = candidates["The UK-Dutch group will own 30% of the project, with Qatar Petroleum holding the rest."]
    assert headline.headline and not lead.headline and not group.headline
    assert lead.lead and not group.lead
    assert group.context[0] == "Qatar and Shell in $6bn gas deal" and "Shell has signed" in " ".join(group.context)
    index.close()


@given(st.lists(st.sampled_from(_NEWS_WORDS) | st.text(max_size=12), max_size=30).map(" ".join))
def test_mentions_kept_in_the_index_read_back_as_found(text):
    assert decode_mentions(text, encode_mentions(text)) == find_mentions(text)


def test_the_index_keeps_the_terms_and_mentions_the_answer_step_would_find(tmp_path):
    """Each sentence's folded terms and typed expressions are found once, when indexed; a store that does not
    keep them (Milvus) has them found at question time, the same."""
    embedder = HashingEmbedder()
    IndexDir(tmp_path / "idx").update(SEEDS, IndexParams(embedder.model_id), embedder)
    index = IndexDir(tmp_path / "idx").open()
    rows = index.sentences(range(index.counts["sentences"]))
    assert len(rows) > 30 and all(r.terms is not None and r.mentions is not None for r in rows)
    assert sum(bool(r.mentions) for r in rows) > len(rows) / 2
    for row in rows:
        assert terms_of(row) == term_set(row.text)
        assert mentions_of(row) == find_mentions(row.text)
        bare = replace(row, terms=None, mentions=None)
        assert terms_of(bare) == terms_of(row) and mentions_of(bare) == mentions_of(row)
    index.close()
