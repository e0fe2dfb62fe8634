"""Time in answers: cited articles of different dates that disagree are given latest first, "as of" their date."""

from qa.answer.result import Citation
from qa.answer.timeline import compose, disagree, latest_first
from qa.text.questions import analyse_question


def _cite(n: int, day: str | None, sentence: str) -> Citation:
    return Citation(n, f"a{n}", "title", day, f"/a{n}.txt", 1, sentence, 0, len(sentence), 0.5)


def test_different_figures_on_different_dates_disagree_and_the_latest_comes_first():
    question = analyse_question("How many people does Acme employ?")
    older = _cite(1, "2020-01-10", "Acme employs 5,000 people in Ohio.")
    newer = _cite(2, "2022-03-01", "Acme now employs 6,200 people in Ohio.")
    assert disagree(question, [older, newer])
    ordered = latest_first([older, newer])
    assert [(c.n, c.date) for c in ordered] == [(1, "2022-03-01"), (2, "2020-01-10")]
    assert compose(ordered, as_of=True) == (
        "As of 2022-03-01: Acme now employs 6,200 people in Ohio. [1] "
        "As of 2020-01-10: Acme employs 5,000 people in Ohio. [2]"
    )


def test_agreement_same_dates_and_undated_articles_are_not_disagreement():
    question = analyse_question("How many people does Acme employ?")
    five = "Acme employs 5,000 people in Ohio."
    assert not disagree(question, [_cite(1, "2020-01-10", five), _cite(2, "2022-03-01", "It has 5,000 staff.")])
    assert not disagree(question, [_cite(1, "2022-03-01", five), _cite(2, "2022-03-01", "Acme has 6,200 staff.")])
    assert not disagree(question, [_cite(1, None, five), _cite(2, "2022-03-01", "Acme has 6,200 staff.")])
    untyped = analyse_question("What did Acme say about its plant?")
    assert disagree(untyped, [_cite(1, "2020-01-10", "The plant cost $40m."), _cite(2, "2021-01-10", "It cost $55m.")])
    assert not disagree(untyped, [_cite(1, "2020-01-10", "The plant opened."), _cite(2, "2021-01-10", "It closed.")])
    cost, staff = _cite(1, "2020-01-10", "The plant cost $40m."), _cite(2, "2021-01-10", "It employs 300 people.")
    assert not disagree(untyped, [cost, staff])  # two facts, not two answers
    when = analyse_question("When was Levi's Stadium chosen?")
    played = _cite(1, "2016-02-08", "The game was played on February 7, 2016, at Levi's Stadium in Santa Clara.")
    voted = _cite(2, "2013-05-22", "On May 21, 2013, NFL owners voted and awarded the game to Levi's Stadium.")
    assert not disagree(when, [played, voted])  # two events, each with its own date, not one changed fact


def test_an_answer_from_articles_that_changed_their_figure_says_as_of(tmp_path):
    from qa.pipeline import Assistant

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "older.txt").write_text(
        "Acme opens a tractor plant\n2020-01-10\n\nAcme Industries employs 5,000 people at its plants in Ohio.\n"
        "The company makes tractors and combine harvesters.\n"
    )
    (corpus / "newer.txt").write_text(
        "Acme adds a second shift\n2022-03-01\n\nAcme Industries now employs 6,200 people at its plants in Ohio.\n"
        "The second shift starts in April.\n"
    )
    assistant = Assistant(corpus=corpus, index_dir=tmp_path / "index")
    assistant.ensure_index()
    answer = assistant.ask("How many people does Acme Industries employ?")
    assistant.close()
    assert [c.date for c in answer.citations] == ["2022-03-01", "2020-01-10"]
    assert answer.text.startswith("As of 2022-03-01: Acme Industries now employs 6,200 people")
    assert "[2]" in answer.text and "As of 2020-01-10:" in answer.text
    assert answer.span is not None and answer.span.text == "6,200" and answer.span.n == 1
