"""Would the answer model choose better with more signals? Each is measured as out-of-fold hit@1 of the ranking.

    .venv/bin/python bench/answer_signals.py [--squad-questions 1500]

Uses bench/fit_answer.py's samples (every question's candidate sentences; run it first) and the default model.
Two signals the issue on answers asks about, each added to qa.answer.choose.FEATURES and fitted the same way:

- **contextual vectors**: the vector of "headline + the two preceding sentences + the sentence", so that "he"
  and "the group" are read with what names them. Indexing them would embed every sentence twice.
- **word vectors**: how well each question word is matched by the sentence's closest word, by the model's vectors
  of single words (a soft word overlap: "ennobled" and "peer"). Indexing them would embed the corpus vocabulary.

Both are computed here for the BBC questions and a random --squad-questions of SQuAD's (the unique texts are
embedded once; about 2 minutes on 2 cores), and compared on those questions with the features citeqa has.
"""

from __future__ import annotations

import argparse
import random
import re
import time

import numpy as np
from fit_answer import BBC_CORPUS, load_cases, load_samples

from qa.answer.choose import FEATURES
from qa.eval.fit_answer import Case, Sample, fit_listwise, folds_of
from qa.pipeline import Assistant
from qa.text.lexical import STOPWORDS_EN, term_set
from qa.text.questions import analyse_question, predicate_text

_WORD = re.compile(r"[A-Za-z][A-Za-z'-]+")
_STOP = frozenset(STOPWORDS_EN) | {"who", "whom", "whose", "what", "when", "where", "which", "why", "how", "did"}


def content_words(text: str) -> list[str]:
    return list(dict.fromkeys(w for w in (m.lower() for m in _WORD.findall(text)) if w not in _STOP))


def encode(embedder, texts: list[str]) -> dict[str, np.ndarray]:
    unique = list(dict.fromkeys(texts))
    vectors = {}
    for start in range(0, len(unique), 256):
        vectors.update(zip(unique[start : start + 256], embedder.encode(unique[start : start + 256]), strict=True))
    return vectors


def contextual_columns(sample: Sample, vectors: dict[str, np.ndarray], question: np.ndarray, predicate: np.ndarray):
    """Cosine of the contextual vector with the question, its gap to the best, and with the stripped question."""
    matrix = np.array([vectors[contextual_text(c)] for c in sample.candidates]).reshape(-1, len(question))
    cosine = matrix @ question
    best = cosine.max() if len(cosine) else 0.0  # as qa.answer.choose takes the best cosine
    return np.column_stack([cosine, cosine - best, matrix @ predicate])


def contextual_text(candidate) -> str:
    return candidate.sentence.text if candidate.headline else " ".join([*candidate.context, candidate.sentence.text])


def word_columns(sample: Sample, vectors: dict[str, np.ndarray]):
    """IDF-weighted soft coverage of the question's words by the sentence, by the sentence with its context, and
    of the words that are not the question's names and numbers."""
    question = analyse_question(sample.question)
    words = content_words(sample.question)
    rows = np.zeros((len(sample.candidates), 3))
    if not words:
        return rows
    weight = np.array([max((sample.idf.get(t, 1.0) for t in term_set(w)), default=1.0) for w in words])
    asked = weight * np.array([not (term_set(w) & set(question.constraints)) for w in words])
    matrix = np.array([vectors[w] for w in words])
    for i, candidate in enumerate(sample.candidates):
        for j, text in enumerate((candidate.sentence.text, " ".join([*candidate.context, candidate.sentence.text]))):
            own = content_words(text)
            if not own:
                continue
            similarity = (matrix @ np.array([vectors[w] for w in own]).T).max(axis=1)
            similarity = np.where(similarity >= 0.4, similarity, 0.0)  # weak matches are noise
            rows[i, j] = weight @ similarity / weight.sum()
            if j == 0 and asked.sum():
                rows[i, 2] = asked @ similarity / asked.sum()
    return rows


def out_of_fold_hit1(cases: list[Case], columns: list[int], folds: int = 5) -> dict[str, float]:
    """Hit@1 of the ranking alone (no abstention) on the answerable questions, each scored by a model that
    never saw it, with fit_answer's listwise fit and settings."""
    fold_of = folds_of([c.question_key for c in cases], folds)
    hits: dict[str, list[bool]] = {"squad": [], "bbc": []}
    for fold in range(folds):
        train = [c for c, f in zip(cases, fold_of, strict=True) if f != fold]
        coefficients = fit_listwise(train, columns, 1e-4)
        for case, case_fold in zip(cases, fold_of, strict=True):
            if case_fold != fold or case.source not in hits or not case.answerable:
                continue
            if not len(case.labels):
                hits[case.source].append(False)
                continue
            z = case.features[:, columns] @ coefficients
            best = min(range(len(z)), key=lambda j: (case.headline[j], -z[j]))
            hits[case.source].append(bool(case.labels[best]))
    return {source: (float(np.mean(v)), len(v)) for source, v in hits.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad-questions", type=int, default=1500)
    args = parser.parse_args()
    samples, cases = load_samples(False), load_cases(False)
    squad_ids = sorted({s.question_id for s in samples if s.source.startswith("squad")})
    random.Random(7).shuffle(squad_ids)
    kept = set(squad_ids[: args.squad_questions])
    chosen = [i for i, s in enumerate(samples) if s.source == "bbc" or s.question_id in kept]
    embedder = Assistant(corpus=BBC_CORPUS).embedder
    started = time.perf_counter()
    questions = encode(
        embedder, [t for i in chosen for t in (samples[i].question, predicate_text(samples[i].question))]
    )
    contextual = encode(embedder, [contextual_text(c) for i in chosen for c in samples[i].candidates])
    words = encode(
        embedder,
        [
            w
            for i in chosen
            for text in (samples[i].question, *(" ".join([*c.context, c.sentence.text]) for c in samples[i].candidates))
            for w in content_words(text)
        ],
    )
    print(
        f"embedded {len(contextual):,} contextual texts and {len(words):,} words in "
        f"{time.perf_counter() - started:.0f} s"
    )
    extended = []
    for i in chosen:
        sample, case = samples[i], cases[i]
        question, predicate = questions[sample.question], questions[predicate_text(sample.question)]
        extra = np.hstack([contextual_columns(sample, contextual, question, predicate), word_columns(sample, words)])
        extended.append(Case(**{**case.__dict__, "features": np.hstack([case.features, extra])}))
    n = len(FEATURES)
    base = list(range(n))
    sentence_cosines = [j for j in base if FEATURES[j] in ("cosine", "cosine_gap", "predicate_cosine")]
    variants = {
        "citeqa's features": base,
        "+ contextual vectors": [*base, n, n + 1, n + 2],
        "contextual vectors instead of the sentence's": [j for j in base if j not in sentence_cosines]
        + [n, n + 1, n + 2],
        "+ word vectors": [*base, n + 3, n + 4, n + 5],
        "+ both": [*base, *range(n, n + 6)],
    }
    print("\n| features | SQuAD hit@1 | BBC hit@1 |\n|---|---|---|")
    for name, columns in variants.items():
        result = out_of_fold_hit1(extended, columns)
        cells = " | ".join(f"{result[source][0]:.3f} ({result[source][1]})" for source in ("squad", "bbc"))
        print(f"| {name} | {cells} |")


if __name__ == "__main__":
    main()
