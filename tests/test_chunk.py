import itertools

from qa.ingest.chunk import chunk_sentences
from qa.text.sentences import split_sentences
from tests.conftest import SEEDS
from tests.helpers.fakes import HashingEmbedder


def _word_count(texts):
    return [len(t.split()) for t in texts]


def test_chunks_respect_the_budget_and_overlap_by_one_sentence():
    text = (SEEDS / "004_cffa3cfd4d8230b1.txt").read_text(encoding="utf-8")
    sentences = split_sentences(text)
    lengths = _word_count([s.text for s in sentences])
    chunks = chunk_sentences(sentences, _word_count, max_tokens=60, overlap=1)
    assert len(chunks) > 3
    assert chunks[0].first == 0 and chunks[-1].last == len(sentences) - 1
    for previous, chunk in itertools.pairwise(chunks):
        # one shared sentence, except after a one-sentence chunk (it has none to spare); never a gap
        assert chunk.first == (previous.last if previous.last > previous.first else previous.last + 1)
    for chunk in chunks:
        size = sum(lengths[chunk.first : chunk.last + 1])
        assert size <= 60 or chunk.first == chunk.last  # only a lone long sentence may exceed
        assert chunk.text == " ".join(" ".join(s.text.split()) for s in sentences[chunk.first : chunk.last + 1])


def test_every_sentence_is_in_some_chunk():
    text = (SEEDS / "000_7e63e6485bed1ddb.txt").read_text(encoding="utf-8")
    sentences = split_sentences(text)
    for budget in (1, 20, 45, 1000):
        chunks = chunk_sentences(sentences, HashingEmbedder().count_tokens, max_tokens=budget)
        covered = {i for c in chunks for i in range(c.first, c.last + 1)}
        assert covered == set(range(len(sentences)))


def test_real_tokenizer_budget(assistant):
    text = (SEEDS / "004_cffa3cfd4d8230b1.txt").read_text(encoding="utf-8")
    sentences = split_sentences(text)
    count = assistant.embedder.count_tokens
    for chunk in chunk_sentences(sentences, count, max_tokens=128):
        if chunk.first != chunk.last:
            assert sum(count([s.text for s in sentences[chunk.first : chunk.last + 1]])) <= 128


def test_no_sentences_no_chunks():
    assert chunk_sentences([], _word_count) == []
