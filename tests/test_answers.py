"""Integration: the real bundled model on the real seeds, through the Assistant."""

import json

import pytest

from qa.answer.result import NOT_ANSWERED
from qa.errors import UsageError
from qa.eval.metrics import contains_gold
from qa.retrieve.followup import Turn
from tests.conftest import SEEDS

QUESTIONS = [json.loads(line) for line in (SEEDS / "questions.jsonl").read_text(encoding="utf-8").splitlines()]
# Reworded questions the answer stage still gets wrong (the evidence ranks second or third), with the shipped
# reader (which never saw these) over the feature model: kept in the seed benchmark so that `citeqa eval
# seeds/questions.jsonl` counts them, and strict, so that a fix shows here. The reader fixed "kang-momentum" and
# "pompeo-hope-kim". "kim-audience" is abstained on by this reader and the one before it; the one before would have
# cited its evidence, ranked 0.25 above the next (qa.answer.choose.read_score), this one (its fourth round read
# each document's sentences most like the question, 2026-12-03) the sentence restating the premise, 0.35 above.
KNOWN_MISSES = {"lee-format-change", "moon-tours", "kim-audience"}
# An answerable question whose probability of being answered is this close to its threshold may be answered on one
# machine and abstained on on the next (int8 kernels, BLAS builds: bench/margins.py lists the margins); for those
# the test checks the sentence it cites or would cite, not whether it answers. "pompeo-hope-kim" is 0.044 below its
# threshold on an AMD EPYC with VNNI and was 0.051 below on one with AVX2 only (2026-12-04), whose int8 products
# saturated: the reader's no longer do (qa.reader.quantize.exact_on_this_cpu), the encoder's still do.
NEAR = 0.06


def decision(assistant, question: str) -> tuple[float, str | None]:
    """How far the probability that the articles answer is above its threshold, and the sentence that would be
    cited first (the answer step's own functions on the Assistant's own scoring)."""
    from qa.answer.choose import answer_probability, answer_threshold, of_asked_type
    from qa.text.questions import analyse_question

    retrieval = assistant.search(question)
    analysis, scored, dense = analyse_question(question), assistant.score(retrieval), retrieval.vector is not None
    typed = of_asked_type(analysis, scored)
    margin = answer_probability(analysis, scored, dense) - answer_threshold(typed, dense)
    return margin, typed[0].candidate.sentence.text if typed else None


def test_question_file_is_a_real_benchmark():
    assert len(QUESTIONS) >= 12
    assert any(not q["answerable"] for q in QUESTIONS) and sum(q["answerable"] for q in QUESTIONS) >= 12


@pytest.mark.parametrize(
    "item",
    [
        pytest.param(q, marks=pytest.mark.xfail(strict=True, reason="known miss")) if q["id"] in KNOWN_MISSES else q
        for q in QUESTIONS
    ],
    ids=[q["id"] for q in QUESTIONS],
)
def test_seed_question(assistant, item):
    answer = assistant.ask(item["question"])
    if item["answerable"]:
        margin, would_cite = decision(assistant, item["question"])
        assert answer.answered or abs(margin) < NEAR, f"abstained on {item['question']!r} ({margin:+.3f})"
        if answer.answered:
            assert answer.citations[0].article_id in item["docs"]
        first = answer.citations[0].sentence if answer.answered else would_cite
        assert first and contains_gold(first, item["evidence"]), answer.text
    else:
        assert answer.text == NOT_ANSWERED and answer.citations == []


def test_issue_example_cites_the_harris_sentence(assistant):
    answer = assistant.ask("Who did Unification Minister Lee In-young meet?")
    first = answer.citations[0]
    assert first.article_id == "000_7e63e6485bed1ddb"
    assert "Harry Harris" in first.sentence
    assert answer.text.startswith(" ".join(first.sentence.split()) + " [1]")
    article = (SEEDS / "000_7e63e6485bed1ddb.txt").read_text(encoding="utf-8")
    assert article[first.start : first.end] == first.sentence
    assert first.date == "2020-08-18" and first.line == 1 and first.path.endswith("000_7e63e6485bed1ddb.txt")


def test_every_answer_sentence_is_followed_by_its_citation(assistant):
    answer = assistant.ask("What did Lee say about the working group?")
    for citation in answer.citations:
        assert f"{' '.join(citation.sentence.split())} [{citation.n}]" in answer.text
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    assert 1 <= len(answer.citations) <= 3


def test_unanswerable_example(assistant):
    answer = assistant.ask("What is the recipe for bibimbap?")
    assert answer.text == NOT_ANSWERED and not answer.answered


def test_a_fact_never_stated_about_a_mentioned_entity_is_abstained_on(assistant):
    """Harris is in the articles, his age is not: the sentences about him do not answer "how old"."""
    assert any("Harry Harris" in s.candidate.sentence.text for s in assistant.score(assistant.search("Harry Harris")))
    answer = assistant.ask("How old is US Ambassador Harry Harris?")
    assert not answer.answered and answer.text == NOT_ANSWERED


def test_the_answer_span_points_into_the_article(assistant):
    answer = assistant.ask("Where did Kang Kyung-wha meet Mike Pompeo?")
    article = (SEEDS / "004_cffa3cfd4d8230b1.txt").read_text(encoding="utf-8")
    assert answer.span.text == "Palo Alto" and answer.span.type == "place" and answer.span.n == 1
    assert article[answer.span.start : answer.span.end] == answer.span.text
    assert answer.citations[0].start <= answer.span.start < answer.span.end <= answer.citations[0].end


def test_a_sentence_that_says_he_answers_a_question_that_names_the_person(assistant):
    """ "since he took office last month": "he" is Lee, named in the sentence before; the note resolves the date."""
    answer = assistant.ask("When did Lee In-young take office?")
    assert "since he took office last month" in answer.citations[0].sentence
    assert answer.span.text == "last month" and answer.kind == "when"
    assert answer.notes == ["“last month” = July 2020 (article dated 2020-08-18)"]


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_each_mode_finds_the_harris_sentence(assistant, mode):
    answer = assistant.ask("Who did Unification Minister Lee In-young meet?", mode=mode)
    assert answer.passages[0].chunk.article_id == "000_7e63e6485bed1ddb"
    assert "Harry Harris" in answer.citations[0].sentence


def test_follow_up_uses_the_conversation(assistant):
    first = assistant.ask("Who did Lee In-young meet?")
    assert "Harry Harris" in first.citations[0].sentence
    history = (Turn(first.question, tuple(c.article_id for c in first.citations)),)
    follow_up = assistant.ask("What did he say about the working group?", history=history)
    assert {p.chunk.article_id for p in follow_up.passages[:3]} == {"000_7e63e6485bed1ddb"}
    assert follow_up.citations[0].article_id == "000_7e63e6485bed1ddb"


@pytest.mark.parametrize("question", ["", "   \n\t", "x" * 2001])
def test_bad_questions(assistant, question):
    with pytest.raises(UsageError):
        assistant.ask(question)
