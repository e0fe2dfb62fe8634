from hypothesis import given, settings
from hypothesis import strategies as st

from qa.text.sentences import normalise_space, paragraph_spans, split_sentences
from tests.conftest import SEEDS


def test_seed_offsets_round_trip():
    for path in SEEDS.glob("*.txt"):
        text = path.read_text(encoding="utf-8")
        sentences = split_sentences(text)
        assert len(sentences) > 5
        for position, sentence in enumerate(sentences):
            assert text[sentence.start : sentence.end] == sentence.text
            assert sentence.position == position
            assert sentence.text == sentence.text.strip()


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab. ?!\n\t“”’U.S")), max_size=300))
def test_offsets_round_trip_on_any_text(text):
    for sentence in split_sentences(text):
        assert text[sentence.start : sentence.end] == sentence.text
        assert sentence.text.strip() == sentence.text


def test_abbreviations_do_not_end_sentences():
    text = "Kang met Pompeo in Palo Alto, Calif., Wednesday. The U.S. side agreed at 3 p.m. Tuesday. Talks ended."
    assert [s.text for s in split_sentences(text)] == [
        "Kang met Pompeo in Palo Alto, Calif., Wednesday.",
        "The U.S. side agreed at 3 p.m. Tuesday.",
        "Talks ended.",
    ]


def test_curly_quotes_stay_with_their_sentence():
    text = "“We need to talk,” Lee said. “Not now.” Harris replied."
    texts = [s.text for s in split_sentences(text)]
    assert texts[0] == "“We need to talk,” Lee said."
    assert all(t.count("“") == t.count("”") for t in texts)


def test_multi_sentence_quote_is_split():
    text = "“There have been agreements. There are projects.” He said."
    assert len(split_sentences(text)) >= 2


def test_lines_are_paragraphs_but_wrapped_prose_is_joined():
    headline = "Seoul reaffirms focus on NK engagement\n\nDespite controversy, officials met."
    assert next(s.text for s in split_sentences(headline)) == "Seoul reaffirms focus on NK engagement"
    wrapped = (
        "This is a long line of prose that has been wrapped by an editor at a fixed width so\n"
        "it continues here and ends here."
    )
    assert len(split_sentences(wrapped)) == 1
    assert paragraph_spans("a\n\nb") == [(0, 1), (3, 4)]


def test_skip_spans_are_left_out():
    text = "date 2020-08-18 Minister Lee met Harris."
    (sentence,) = split_sentences(text, skip=[(0, 16)])
    assert sentence.text == "Minister Lee met Harris."
    assert sentence.start == 16


def test_normalise_space():
    assert normalise_space("  a\n\tb  c ") == "a b c"
