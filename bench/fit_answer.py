"""Fit the answer model: the weights of qa/answer/choose.py's features, and its abstention threshold.

    .venv/bin/python bench/fit_answer.py [--folds 5] [--bbc-weight 10]

Data: the SQuAD dev half (every question; each is asked twice, once as is and once with every paragraph of
its own Wikipedia article removed from the results, which makes it unanswerable) and the BBC dev questions on
the BBC corpus (90 answerable, 30 unanswerable). A candidate sentence is positive when it contains a gold
answer (SQuAD) or the evidence string (BBC). Two models, each with an L2 penalty, fitted with scipy: a
listwise logistic ranking over each question's candidates (qa.answer.choose.FEATURES; --pointwise for a plain
logistic loss), then a logistic abstention model over the best candidate (qa.answer.choose.ANSWERABLE_FEATURES).
BBC questions weigh --bbc-weight times a SQuAD question, so that news, which is what citeqa is for, is not
drowned by 4,961 Wikipedia questions. Each question's candidate sentences are kept between runs (--refresh
retrieves them again, after changing retrieval or the index); their features are computed again whenever the
modules that compute them change.

Prints out-of-fold hit@1 per data set (each question scored by models that never saw it) and the abstention
trade-off: the share of answerable questions answered (and answered right) against the share of unanswerable
ones abstained on, per threshold; then the weights fitted on everything, which --write puts in
qa/answer/weights.py.
"""

from __future__ import annotations

import argparse
import hashlib
import pickle
import random
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from qa.answer.candidates import Candidate
from qa.answer.choose import ANSWERABLE_FEATURES, FEATURES, answerable_row, feature_matrix, years_found
from qa.eval.datasets import load_dataset
from qa.eval.evaluate import assistant_for
from qa.eval.metrics import contains_gold
from qa.pipeline import Assistant
from qa.text.questions import analyse_question

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "bench"
SQUAD = SHARED / "squad-v1.1-dev-half.json"
BBC = SHARED / "bbc-dev.jsonl"
BBC_CORPUS = SHARED / "bbc"
ROOT = Path(__file__).resolve().parents[1]
SAMPLES = Path(tempfile.gettempdir()) / "citeqa-fit-answer-samples.pkl"
FEATURE_CACHE = Path(tempfile.gettempdir()) / "citeqa-fit-answer-features"
FEATURE_MODULES = (
    "qa/answer/choose.py",
    "qa/text/questions.py",
    "qa/text/mentions.py",
    "qa/text/lexical.py",
    "qa/answer/candidates.py",
)
WEIGHTS_MODULE = ROOT / "qa" / "answer" / "weights.py"
WEIGHTS_FILE_HEADER = '''"""Weights of the answer model (qa/answer/choose.py), written by `bench/fit_answer.py --write`.

Do not edit by hand: change the features or the data, then fit again.

Ranking: a listwise logistic model over each question's candidate sentences (qa.answer.choose.FEATURES). Abstention:
a logistic model over the best candidate (qa.answer.choose.ANSWERABLE_FEATURES). Fitted on the SQuAD dev half (with
each question also asked without its own article, as an unanswerable one) and the BBC dev questions.
Settings: {settings}
"""

'''
BM25_FEATURES = [i for i, f in enumerate(FEATURES) if "cosine" not in f and f != "topicality"]


@dataclass
class Sample:
    """One question as retrieval left it for the answer step: its candidate sentences and the IDF of its words.
    Features are computed from samples, so that a changed feature needs no retrieval again."""

    source: str  # "squad", "squad-negative", "bbc"
    question_id: str
    question: str
    answerable: bool
    gold: tuple[str, ...]
    candidates: list[Candidate]
    idf: dict[str, float]


@dataclass
class Case:
    """One question as the answer step saw it: candidate features, which candidates answer, headline flags."""

    source: str
    question_id: str
    answerable: bool
    features: np.ndarray
    labels: np.ndarray
    headline: np.ndarray
    years: float  # share of the question's years found in the candidates (qa.answer.choose.answerable_features)


def collect(assistant: Assistant, questions, source: str, exclude_own_article: bool) -> list[Sample]:
    samples = []
    for item in questions:
        retrieval = assistant.search(item.question, k=40, mode="hybrid")
        runs = [(source, retrieval.passages, item.answerable)]
        if exclude_own_article:
            prefix = next(iter(item.gold_docs))[:4]
            others = [p for p in retrieval.passages if not p.chunk.article_id.startswith(prefix)]
            runs.append((f"{source}-negative", others, False))
        analysis = analyse_question(item.question)
        for name, passages, answerable in runs:
            candidates, idf = assistant.candidates(analysis, retrieval, passages)
            gold = tuple(item.gold_strings) if answerable else ()
            samples.append(Sample(name, item.id, item.question, answerable, gold, candidates, idf))
    return samples


def featurise(sample: Sample) -> Case:
    question = analyse_question(sample.question)
    features = feature_matrix(question, sample.candidates, sample.idf)
    labels = np.array([bool(sample.gold) and contains_gold(c.sentence.text, sample.gold) for c in sample.candidates])
    headline = np.array([c.headline for c in sample.candidates], dtype=bool)
    years = years_found(question, sample.candidates)
    return Case(sample.source, sample.question_id, sample.answerable, features, labels, headline, years)


def trap(case: Case) -> Case | None:
    """The same question with every sentence that answers it taken away: its subject is still in the
    articles, the asked fact is not (the kind of unanswerable question users meet on news). The features
    relative to the other candidates are recomputed without the removed ones."""
    keep = ~case.labels.astype(bool)
    if not len(keep) or keep.all() or not keep.any():
        return None
    features = case.features[keep].copy()
    cosine, gap = FEATURES.index("cosine"), FEATURES.index("cosine_gap")
    features[:, gap] = features[:, cosine] - features[:, cosine].max()
    for column in ("lexical", "passage"):
        j = FEATURES.index(column)
        top = features[:, j].max()
        features[:, j] = features[:, j] / top if top > 0 else 0.0
    return Case(
        f"{case.source}-trap", case.question_id, False, features, case.labels[keep], case.headline[keep], case.years
    )


# Modules that moved when qa/ was cut by stage: a cache pickled before still loads.
MOVED = {
    "qa.candidates": "qa.answer.candidates",
    "qa.storage": "qa.index.seam",
    "qa.sentences": "qa.text.sentences",
    "qa.mentions": "qa.text.mentions",
    "qa.questions": "qa.text.questions",
    "qa.retrieve": "qa.retrieve.retriever",
    "qa.answer": "qa.answer.result",
}


class _Unpickler(pickle.Unpickler):
    """Samples and cases pickled while this script ran as __main__ load in any script that imports it."""

    def find_class(self, module: str, name: str):
        if module in ("__main__", __name__) and name in ("Sample", "Case"):
            return globals()[name]
        return super().find_class(MOVED.get(module, module), name)


def _unpickle(path: Path):
    with path.open("rb") as file:
        return _Unpickler(file).load()


def load_samples(refresh: bool) -> list[Sample]:
    """Every question's candidates, retrieved once and kept in SAMPLES."""
    if refresh or not SAMPLES.exists():
        squad = load_dataset(SQUAD)
        squad_assistant = assistant_for(squad, None, None, None)
        squad_assistant.ensure_index()
        bbc = load_dataset(BBC)
        bbc_assistant = Assistant(corpus=BBC_CORPUS)
        bbc_assistant.ensure_index()
        samples = collect(squad_assistant, squad.questions, "squad", True)
        samples += collect(bbc_assistant, bbc.questions, "bbc", False)
        SAMPLES.write_bytes(pickle.dumps(samples))
        return samples
    return _unpickle(SAMPLES)


def load_cases(refresh: bool, traps: bool) -> list[Case]:
    """The samples' features, computed again whenever the modules that compute them change (FEATURE_CACHE is
    keyed by their source)."""
    key = hashlib.sha256(b"".join((ROOT / m).read_bytes() for m in FEATURE_MODULES)).hexdigest()[:16]
    cached = FEATURE_CACHE.with_suffix(f".{key}.pkl")
    if cached.exists() and not refresh:
        cases = _unpickle(cached)
    else:
        cases = [featurise(s) for s in load_samples(refresh)]
        cached.write_bytes(pickle.dumps(cases))
    return cases + [t for t in map(trap, cases) if t is not None and traps]


def fit(cases: list[Case], columns: list[int], bbc_weight: float, l2: float) -> tuple[np.ndarray, float]:
    """Logistic regression over candidates of answerable questions (and all candidates of unanswerable ones,
    which are all negatives), each question's candidates sharing the question's weight."""
    rows, labels, weights = [], [], []
    for case in cases:
        if not len(case.labels):
            continue
        rows.append(case.features[:, columns])
        labels.append(case.labels)
        weight = bbc_weight if case.source == "bbc" else 1.0
        weights.append(np.full(len(case.labels), weight / len(case.labels)))
    x, y, w = np.vstack(rows), np.concatenate(labels).astype(float), np.concatenate(weights)

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        z = x @ theta[:-1] + theta[-1]
        p = 1.0 / (1.0 + np.exp(-z))
        eps = 1e-12
        value = -np.sum(w * (y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps))) + l2 * theta[:-1] @ theta[:-1]
        gradient = np.append(x.T @ (w * (p - y)) + 2 * l2 * theta[:-1], np.sum(w * (p - y)))
        return value, gradient

    result = minimize(loss, np.zeros(len(columns) + 1), jac=True, method="L-BFGS-B")
    return result.x[:-1], float(result.x[-1])


def fit_listwise(cases: list[Case], columns: list[int], bbc_weight: float, l2: float) -> tuple[np.ndarray, float]:
    """Softmax over each answerable question's candidates: maximise the probability of the right ones."""
    groups = [c for c in cases if c.answerable and c.labels.any()]
    x = np.vstack([c.features[:, columns] for c in groups])
    y = np.concatenate([c.labels for c in groups]).astype(float)
    sizes = np.array([len(c.labels) for c in groups])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    group_of = np.repeat(np.arange(len(groups)), sizes)
    weight = np.array([bbc_weight if c.source == "bbc" else 1.0 for c in groups])

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        z = x @ theta
        z = z - np.maximum.reduceat(z, starts)[group_of]
        e = np.exp(z)
        total = np.add.reduceat(e, starts)
        positive = np.add.reduceat(e * y, starts)
        value = -np.sum(weight * np.log(positive / total)) + l2 * theta @ theta
        p_all = e / total[group_of]
        p_pos = e * y / positive[group_of]
        gradient = x.T @ (weight[group_of] * (p_all - p_pos)) + 2 * l2 * theta
        return value, gradient

    result = minimize(loss, np.zeros(len(columns)), jac=True, method="L-BFGS-B")
    return result.x, 0.0


def top(case: Case, coefficients: np.ndarray, bias: float, columns: list[int]) -> tuple[np.ndarray, bool]:
    """The answerable-features row of the sentence citeqa would cite first, and whether that sentence answers."""
    if not len(case.labels):
        return np.zeros(len(ANSWERABLE_FEATURES)), False
    z = case.features[:, columns] @ coefficients + bias
    p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()  # each candidate's share, as qa.answer.choose.score gives it
    best = min(range(len(p)), key=lambda i: (case.headline[i], -p[i]))  # as qa.answer.choose orders them
    features = {
        f: (v if FEATURES.index(f) in columns else 0.0) for f, v in zip(FEATURES, case.features[best], strict=True)
    }
    row = answerable_row(float(p[best]), features, case.features[:, FEATURES.index("constraints")].max(), case.years)
    return row, bool(case.labels[best])


def fit_answerable(rows: np.ndarray, answerable: np.ndarray, weights: np.ndarray, l2: float):
    """Question level: does the best sentence come from articles that answer? (answerable = 1)."""
    y = answerable.astype(float)

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        p = 1.0 / (1.0 + np.exp(-(rows @ theta[:-1] + theta[-1])))
        value = -np.sum(weights * (y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12)))
        value += l2 * theta[:-1] @ theta[:-1]
        gradient = np.append(rows.T @ (weights * (p - y)) + 2 * l2 * theta[:-1], np.sum(weights * (p - y)))
        return value, gradient

    result = minimize(loss, np.zeros(rows.shape[1] + 1), jac=True, method="L-BFGS-B")
    return result.x[:-1], float(result.x[-1])


def folds_of(cases: list[Case], folds: int) -> list[int]:
    """Each case's fold: a question and its negative and trap variants share one, so none is scored by a model
    that saw another form of it."""
    ids = sorted({(c.source.split("-")[0], c.question_id) for c in cases})
    random.Random(3).shuffle(ids)
    fold_of = {key: i % folds for i, key in enumerate(ids)}
    return [fold_of[(c.source.split("-")[0], c.question_id)] for c in cases]


def out_of_fold(cases: list[Case], folds: int, columns: list[int], fitter, bbc_weight: float, l2: float):
    fold_of = folds_of(cases, folds)
    results: dict[int, tuple[float, bool]] = {}
    for fold in range(folds):
        train_ids = [i for i, f in enumerate(fold_of) if f != fold]
        coefficients, bias = fitter([cases[i] for i in train_ids], columns, bbc_weight, l2)
        tops = {i: top(case, coefficients, bias, columns) for i, case in enumerate(cases)}
        answerable_weights, answerable_bias = stage_two(cases, tops, train_ids, bbc_weight, l2)
        for i in range(len(cases)):
            if fold_of[i] == fold:
                row, hit = tops[i]
                results[i] = (float(1 / (1 + np.exp(-(row @ answerable_weights + answerable_bias)))), hit)
    return [results[i] for i in range(len(cases))]


def stage_two(cases, tops, ids, bbc_weight: float, l2: float):
    rows = np.array([tops[i][0] for i in ids])
    answerable = np.array([cases[i].answerable for i in ids])
    weights = np.array([bbc_weight if cases[i].source == "bbc" else 1.0 for i in ids])
    return fit_answerable(rows, answerable, weights, l2)


def report(cases: list[Case], tops, label: str) -> None:
    print(f"\n{label}")
    for source in ("squad", "bbc"):
        answerable = [t for c, t in zip(cases, tops, strict=True) if c.source == source and c.answerable]
        print(f"  {source:<6} hit@1 {np.mean([hit for _, hit in answerable]):.3f} ({len(answerable)} questions)")
    print(
        f"  {'threshold':>9} | {'SQuAD answered':>14} {'right':>6} {'abstained on unanswerable':>26} |"
        f" {'BBC answered':>12} {'right':>6} {'abstained':>9} {'abstain P':>9}"
    )
    for threshold in np.arange(0.1, 0.91, 0.05):
        cells = []
        for source in ("squad", "bbc"):
            pos = [(p, hit) for c, (p, hit) in zip(cases, tops, strict=True) if c.source == source and c.answerable]
            negative_source = {"squad": "squad-negative", "bbc": "bbc"}[source]
            neg = [p for c, (p, _) in zip(cases, tops, strict=True) if c.source == negative_source and not c.answerable]
            answered = np.mean([p >= threshold for p, _ in pos])
            right = np.mean([p >= threshold and hit for p, hit in pos])
            abstained = np.mean([p < threshold for p in neg])
            n_abstained = sum(p < threshold for p, _ in pos) + sum(p < threshold for p in neg)
            precision = sum(p < threshold for p in neg) / n_abstained if n_abstained else 0.0
            cells.append((answered, right, abstained, precision))
        (sa, sr, sn, _), (ba, br, bn, bp) = cells
        print(f"  {threshold:9.2f} | {sa:14.3f} {sr:6.3f} {sn:26.3f} | {ba:12.3f} {br:6.3f} {bn:9.3f} {bp:9.3f}")


def _literal(weights: dict[str, float]) -> str:
    """A dict literal laid out as ruff formats it, one weight a line."""
    return "{\n" + "".join(f'    "{name}": {value!r},\n' for name, value in weights.items()) + "}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--bbc-weight", type=float, default=10.0)
    parser.add_argument("--l2", type=float, default=0.1)
    parser.add_argument("--refresh", action="store_true", help="retrieve every question's candidates again")
    parser.add_argument("--pointwise", action="store_true", help="rank with a pointwise logistic loss instead")
    parser.add_argument("--write", action="store_true", help=f"write the weights to {WEIGHTS_MODULE.name}")
    parser.add_argument("--traps", action="store_true", help="also train abstention on simulated traps")
    args = parser.parse_args()
    fitter = fit if args.pointwise else fit_listwise
    cases = load_cases(args.refresh, args.traps)
    fitted = {}
    for name, columns in (("dense", list(range(len(FEATURES)))), ("bm25", BM25_FEATURES)):
        tops = out_of_fold(cases, args.folds, columns, fitter, args.bbc_weight, args.l2)
        report(cases, tops, f"{name}: out-of-fold ({args.folds} folds), BBC weight {args.bbc_weight}")
        coefficients, bias = fitter(cases, columns, args.bbc_weight, args.l2)
        tops = {i: top(case, coefficients, bias, columns) for i, case in enumerate(cases)}
        answerable_weights, answerable_bias = stage_two(cases, tops, list(range(len(cases))), args.bbc_weight, args.l2)
        fitted[name] = (
            {FEATURES[j]: round(float(v), 3) for j, v in zip(columns, coefficients, strict=True)},
            {f: round(float(v), 3) for f, v in zip(ANSWERABLE_FEATURES, answerable_weights, strict=True)},
            round(answerable_bias, 3),
        )
    loss = "pointwise" if args.pointwise else "listwise"
    settings = f"{loss} ranking, {args.folds} folds, BBC weight {args.bbc_weight}, L2 {args.l2}, traps {args.traps}"
    text = WEIGHTS_FILE_HEADER.format(settings=settings)
    for name, (weights, answerable, answerable_bias) in fitted.items():
        suffix = "" if name == "dense" else "_BM25"
        text += f"WEIGHTS{suffix} = {_literal(weights)}\n"
        text += f"ANSWERABLE_WEIGHTS{suffix} = {_literal(answerable)}\n"
        text += f"ANSWERABLE_BIAS{suffix} = {answerable_bias!r}\n"
    print("\n" + text)
    if args.write:
        WEIGHTS_MODULE.write_text(text)
        print(f"written to {WEIGHTS_MODULE}")


if __name__ == "__main__":
    main()
