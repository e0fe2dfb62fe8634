"""The answer step, in order, in one place: from a retrieved question to cited sentences and the exact answer, or
"the articles do not say". The Assistant calls `answer_question` once per question.

1. The question is analysed (what it asks for, its names and numbers: qa.text.questions).
2. Every sentence of the best passages becomes a candidate with its context (qa.answer.candidates).
3. The feature model scores them and the reader reads the best (qa.answer.choose), which chooses up to three or
   abstains; a statement of the asked fact from an article of another date joins them (qa.answer.timeline).
4. The chosen sentences become citations; when their articles' dates disagree, the latest comes first and the
   text says "as of" (qa.answer.timeline).
5. The exact answer is taken from the first citation (the reader's span, narrowed to the asked expression:
   qa.answer.span), and relative dates in the cited sentences are resolved against their articles' dates.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from qa.answer.candidates import Candidate, gather
from qa.answer.choose import Scored, choose, read, score
from qa.answer.result import NOT_ANSWERED, Answer, AnswerSpan, Citation
from qa.answer.span import answer_span, resolve_relative_dates
from qa.answer.timeline import compose, disagree, latest_first, rival
from qa.index.seam import IndexReader
from qa.ingest.formats import page_of
from qa.retrieve.retriever import Passage, Retrieval
from qa.text.questions import QuestionAnalysis, analyse_question
from qa.text.sentences import without_controls

if TYPE_CHECKING:
    from qa.reader.model import Reader


def candidate_sentences(
    index: IndexReader, question: QuestionAnalysis, retrieval: Retrieval, passages: list[Passage]
) -> tuple[list[Candidate], dict[str, float]]:
    """The sentences of `passages` the answer step weighs, and the IDF of the question's words among sentences
    (bench/fit_answer.py keeps both to fit the answer model without retrieving again)."""
    candidates = gather(index, passages, retrieval.vector, retrieval.predicate_vector, list(question.terms))
    return candidates, index.idf(question.words, "sentences")


def scored_sentences(
    index: IndexReader, retrieval: Retrieval, reader: Reader | None, passages: list[Passage]
) -> list[Scored]:
    """Every sentence of `passages`, most likely answer first: the feature model's ranking, the best read by the
    reader when there is one."""
    return _scored(index, analyse_question(retrieval.question), retrieval, reader, passages)


def _scored(
    index: IndexReader, question: QuestionAnalysis, retrieval: Retrieval, reader: Reader | None, passages
) -> list[Scored]:
    candidates, idf = candidate_sentences(index, question, retrieval, passages)
    scored = score(question, candidates, idf, dense=retrieval.vector is not None)
    return read(reader, retrieval.question, scored) if reader is not None and scored else scored


def answer_question(index: IndexReader, retrieval: Retrieval, reader: Reader | None, passages: list[Passage]) -> Answer:
    """The answer to a retrieved question from the sentences of `passages` (the best few of its passages)."""
    started = time.perf_counter()
    question = analyse_question(retrieval.question)
    scored = _scored(index, question, retrieval, reader, passages)
    chosen = choose(question, scored, dense=retrieval.vector is not None)
    if chosen:
        other = rival(question, scored, lambda article_id: index.article(article_id).date)
        chosen += [other] if other is not None and other not in chosen else []
    citations = cite(index, chosen)
    as_of = disagree(question, citations)
    if as_of:  # articles of different dates differ: the latest first
        citations = latest_first(citations)
    text = compose(citations, as_of) or NOT_ANSWERED
    span = None
    notes: list[str] = list(retrieval.notes)
    if citations:
        first = citations[0]  # not always chosen[0]: latest_first may have put a later article first
        span = _span(question, first, next(c for c in chosen if _cites(first, c)))
        for citation in citations:
            notes += resolve_relative_dates(citation.sentence, citation.date)
    timings = {**retrieval.timings, "answer_ms": round((time.perf_counter() - started) * 1000, 2)}
    return Answer(
        retrieval.question,
        text,
        citations,
        retrieval.passages,
        timings,
        retrieval.mode,
        span,
        question.kind,
        list(dict.fromkeys(notes)),
    )


def cite(index: IndexReader, chosen: list[Scored]) -> list[Citation]:
    """A citation of each chosen sentence, numbered in order: its article, place, line and page, and copies."""
    citations = []
    for n, scored in enumerate(chosen, 1):
        item = scored.candidate
        article = index.article(item.sentence.article_id)
        text = index.article_text(article.id)
        citations.append(
            Citation(
                n=n,
                article_id=article.id,
                title=article.title,
                date=article.date,
                path=article.path,
                line=text.count("\n", 0, item.sentence.start) + 1,
                sentence=item.sentence.text,
                start=item.sentence.start,
                end=item.sentence.end,
                score=round(scored.probability, 4),
                source=article.source,
                author=article.author,
                url=article.url,
                page=page_of(list(article.pages), item.sentence.start),
                also_in=tuple(copy.path for copy in index.copies(article.id)),
                reader=round(scored.reading.probability, 4) if scored.reading is not None else None,
            )
        )
    return citations


def _cites(citation: Citation, scored: Scored) -> bool:
    sentence = scored.candidate.sentence
    return (sentence.article_id, sentence.start) == (citation.article_id, citation.start)


def _span(question: QuestionAnalysis, first: Citation, chosen: Scored) -> AnswerSpan | None:
    """The exact answer in the first citation: the reader's span, narrowed to the asked expression
    (qa.answer.span) when it holds one ("the port city of Busan" -> "Busan"); without the reader, the typed
    expression alone. Span F1 of the first sentence, SQuAD / BBC dev: 0.573 / 0.656, against 0.577 / 0.635 for
    the reader's span as it is and 0.20 / 0.53 for typed expressions alone (bench/reader_choice.py)."""
    found = answer_span(question, first.sentence)
    reading = chosen.reading
    if reading is not None and reading.span[1] > reading.span[0]:
        start, end = reading.span
        visible = without_controls(first.sentence)[start:end] == first.sentence[start:end]  # not "31m" of ESC[31m
        if visible and (found is None or not (start <= found.start and found.end <= end)):
            return AnswerSpan(1, "phrase", first.sentence[start:end], first.start + start, first.start + end)
    if found is None:
        return None
    return AnswerSpan(1, found.type, found.text, first.start + found.start, first.start + found.end)
