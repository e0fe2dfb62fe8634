"""Fit the answer model — the feature ranking and the abstention model of qa.answer.choose — on the training data
in ../shared/train (never on a benchmark's questions), and write its weights to qa/answer/weights.py:

    .venv/bin/python -m qa.eval.fit_answer --data ../shared/train [--write]

Data: SQuAD-style questions with answer spans from four of the training sets (SQuAD-Shifts' new Wikipedia,
Reddit and Amazon reviews; Natural Questions via QED), --per-source of each drawn with a fixed seed, over a
corpus of their documents (every paragraph a file, as the SQuAD dev eval has them) that citeqa indexes like any
folder. Each question is asked three times: as it is (a candidate sentence answers when it holds a gold answer);
with its own article's passages removed ("the articles do not say", every candidate a negative); and moved off
what its answer states (qa.reader.data.moved_question: another year or another name, the way news questions go
unanswered), asked of the whole corpus. Two models, each with an L2 penalty, fitted with scipy: a listwise
logistic ranking over each answerable question's candidates (qa.answer.choose.FEATURES), then a logistic
abstention model over the best candidate (qa.answer.choose.ANSWERABLE_FEATURES), the answerable and the
unanswerable questions weighing the same in all. Out-of-fold figures on the training questions are printed (a
question and its variants share a fold); `bench/fit_answer.py` measures the written weights on the dev sets,
where the threshold is chosen.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.answer.candidates import Candidate
from qa.answer.choose import ANSWERABLE_FEATURES, FEATURES, answerable_row, feature_matrix, years_found
from qa.eval.datasets import EvalQuestion
from qa.eval.metrics import contains_gold
from qa.eval.train_questions import SOURCES, TRAP, article_of, training_dataset
from qa.paths import cache_root
from qa.pipeline import Assistant
from qa.provenance import current_commit
from qa.retrieve.retriever import Passage
from qa.text.questions import analyse_question

ROOT = Path(__file__).resolve().parents[2]
WEIGHTS_MODULE = ROOT / "qa" / "answer" / "weights.py"
NEGATIVE = "-negative"  # suffix of the source of a question asked without its own article
RETRIEVED = 40  # passages retrieved per question, of which the answer step reads its usual few
FEATURE_MODULES = (
    "qa/answer/choose.py",
    "qa/text/questions.py",
    "qa/text/mentions.py",
    "qa/text/lexical.py",
    "qa/answer/candidates.py",
)
BM25_FEATURES = [i for i, f in enumerate(FEATURES) if "cosine" not in f and f != "topicality"]
WEIGHTS_FILE_HEADER = '''"""Answer model weights (qa/answer/choose.py), by `python -m qa.eval.fit_answer --write`.

Do not edit by hand: change the features or the data, then fit again.

Ranking: a listwise logistic model over each question's candidate sentences (qa.answer.choose.FEATURES). Abstention:
a logistic model over the best candidate (qa.answer.choose.ANSWERABLE_FEATURES). Fitted on training data only
(../shared/train), each question also asked without its own article and moved to another year or name; MANIFEST
says on what, how, and how well out of fold.
"""

'''


@dataclass
class Sample:
    """One question as retrieval left it for the answer step: its candidate sentences and the IDF of its words.
    Features are computed from samples, so that a changed feature needs no retrieval again."""

    source: str  # the set's name, with NEGATIVE appended when asked without its own article
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

    @property
    def question_key(self) -> str:
        """The question this case asks in one of its forms (as it is, without its article, moved)."""
        return self.question_id.removesuffix(TRAP)


def without_own_article(passages: list[Passage], item: EvalQuestion) -> list[Passage]:
    """The passages from other articles than the question's own: what retrieval leaves when the articles do not
    hold its answer."""
    own = {article_of(d) for d in item.gold_docs}
    return [p for p in passages if article_of(p.chunk.article_id) not in own]


def collect(assistant: Assistant, questions: list[EvalQuestion], source_of: Callable[[EvalQuestion], str]):
    """Every question's candidates as the answer step gets them; an answerable one's also without its article."""
    samples = []
    for n, item in enumerate(questions, 1):
        if n % 500 == 0:
            print(f"  {n}/{len(questions)} questions retrieved", flush=True)
        retrieval = assistant.search(item.question, k=RETRIEVED, mode="hybrid")
        source = source_of(item)
        runs = [(source, retrieval.passages, item.answerable)]
        if item.answerable:
            runs.append((f"{source}{NEGATIVE}", without_own_article(retrieval.passages, item), False))
        analysis = analyse_question(item.question)
        for name, passages, answerable in runs:
            candidates, idf = assistant.candidates(analysis, retrieval, passages)
            gold = tuple(item.gold_strings) if answerable else ()
            samples.append(Sample(name, item.id, item.question, answerable, gold, candidates, idf))
    return samples


def training_samples(root: Path, per_source: int, seed: int, held_out: bool = False) -> list[Sample]:
    """The training questions' samples, retrieved once per data set and kept in the cache directory (`held_out`:
    of the reader's validation documents only, qa.eval.train_questions.training_dataset)."""
    from qa.eval.evaluate import assistant_for

    dataset = training_dataset(root, per_source, seed, held_out)
    cached = cache_root() / "fit-answer" / f"train-{dataset.content_hash}.pkl"
    if cached.exists():
        return pickle.loads(cached.read_bytes())
    assistant = assistant_for(dataset, None, None, None)
    assistant.ensure_index()
    samples = collect(assistant, dataset.questions, lambda q: q.id.split(":")[0])
    cached.parent.mkdir(parents=True, exist_ok=True)
    temp = cached.with_suffix(".tmp")
    temp.write_bytes(pickle.dumps(samples))
    temp.replace(cached)
    return samples


def featurise(sample: Sample) -> Case:
    question = analyse_question(sample.question)
    features = feature_matrix(question, sample.candidates, sample.idf)
    labels = np.array([bool(sample.gold) and contains_gold(c.sentence.text, sample.gold) for c in sample.candidates])
    headline = np.array([c.headline for c in sample.candidates], dtype=bool)
    years = years_found(question, sample.candidates)
    return Case(sample.source, sample.question_id, sample.answerable, features, labels, headline, years)


def cases_of(samples: list[Sample], name: str) -> list[Case]:
    """The samples' features, cached under `name` and the source of the modules that compute them."""
    key = hashlib.sha256(b"".join((ROOT / m).read_bytes() for m in FEATURE_MODULES)).hexdigest()[:16]
    cached = cache_root() / "fit-answer" / f"{name}-features-{key}.pkl"
    if cached.exists():
        return pickle.loads(cached.read_bytes())
    cases = [featurise(s) for s in samples]
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(pickle.dumps(cases))
    return cases


def fit_listwise(cases: list[Case], columns: list[int], l2: float) -> np.ndarray:
    """Softmax over each answerable question's candidates: maximise the probability of the right ones."""
    from scipy.optimize import minimize

    groups = [c for c in cases if c.answerable and c.labels.any()]
    x = np.vstack([c.features[:, columns] for c in groups])
    y = np.concatenate([c.labels for c in groups]).astype(float)
    sizes = np.array([len(c.labels) for c in groups])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    group_of = np.repeat(np.arange(len(groups)), sizes)

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        z = x @ theta
        z = z - np.maximum.reduceat(z, starts)[group_of]
        e = np.exp(z)
        total = np.add.reduceat(e, starts)
        positive = np.add.reduceat(e * y, starts)
        value = -np.sum(np.log(positive / total)) / len(groups) + l2 * theta @ theta
        p_all = e / total[group_of]
        p_pos = e * y / positive[group_of]
        gradient = x.T @ (p_all - p_pos) / len(groups) + 2 * l2 * theta
        return value, gradient

    return minimize(loss, np.zeros(len(columns)), jac=True, method="L-BFGS-B").x


def top(case: Case, coefficients: np.ndarray, columns: list[int]) -> tuple[np.ndarray, bool]:
    """The answerable-features row of the sentence citeqa would cite first, and whether that sentence answers."""
    if not len(case.labels):
        return np.zeros(len(ANSWERABLE_FEATURES)), False
    z = case.features[:, columns] @ coefficients
    p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()  # each candidate's share, as qa.answer.choose.score gives it
    best = min(range(len(p)), key=lambda i: (case.headline[i], -p[i]))  # as qa.answer.choose orders them
    features = {
        f: (v if FEATURES.index(f) in columns else 0.0) for f, v in zip(FEATURES, case.features[best], strict=True)
    }
    row = answerable_row(float(p[best]), features, case.features[:, FEATURES.index("constraints")].max(), case.years)
    return row, bool(case.labels[best])


def fit_answerable(rows: np.ndarray, answerable: np.ndarray, l2: float) -> tuple[np.ndarray, float]:
    """Question level: does the best sentence come from articles that answer? The answerable and the unanswerable
    questions weigh the same in all, whatever their counts."""
    from scipy.optimize import minimize

    y = answerable.astype(float)
    weights = np.where(y > 0, 0.5 / max(y.sum(), 1), 0.5 / max((1 - y).sum(), 1))

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        p = 1.0 / (1.0 + np.exp(-(rows @ theta[:-1] + theta[-1])))
        value = -np.sum(weights * (y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12)))
        value += l2 * theta[:-1] @ theta[:-1]
        gradient = np.append(rows.T @ (weights * (p - y)) + 2 * l2 * theta[:-1], np.sum(weights * (p - y)))
        return value, gradient

    result = minimize(loss, np.zeros(rows.shape[1] + 1), jac=True, method="L-BFGS-B")
    return result.x[:-1], float(result.x[-1])


@dataclass(frozen=True)
class Fitted:
    """Both models for one set of ranking columns (all features with vectors; BM25_FEATURES without)."""

    columns: list[int]
    ranking: np.ndarray
    answerable: np.ndarray
    bias: float

    def judge(self, case: Case) -> tuple[float, bool]:
        """The probability that `case` is answered, and whether its first sentence answers."""
        row, hit = top(case, self.ranking, self.columns)
        return float(1 / (1 + np.exp(-(row @ self.answerable + self.bias)))), hit


def fit_both(cases: list[Case], columns: list[int], l2: float) -> Fitted:
    ranking = fit_listwise(cases, columns, l2)
    rows = np.array([top(case, ranking, columns)[0] for case in cases])
    weights, bias = fit_answerable(rows, np.array([c.answerable for c in cases]), l2)
    return Fitted(columns, ranking, weights, bias)


def folds_of(question_keys: list[str], folds: int) -> list[int]:
    """Each case's fold, given the key of the question it asks in some form (as it is, without its article,
    moved): a question and its other forms share one, so none is scored by a model that saw it."""
    keys = sorted(set(question_keys))
    random.Random(3).shuffle(keys)
    fold_of = {key: i % folds for i, key in enumerate(keys)}
    return [fold_of[key] for key in question_keys]


def out_of_fold(cases: list[Case], folds: int, columns: list[int], l2: float) -> list[tuple[float, bool]]:
    fold_of = folds_of([c.question_key for c in cases], folds)
    results: dict[int, tuple[float, bool]] = {}
    for fold in range(folds):
        fitted = fit_both([c for c, f in zip(cases, fold_of, strict=True) if f != fold], columns, l2)
        results |= {i: fitted.judge(c) for i, (c, f) in enumerate(zip(cases, fold_of, strict=True)) if f == fold}
    return [results[i] for i in range(len(cases))]


def trade_off(outcomes: list[tuple[bool, float, bool]], thresholds=None) -> list[dict[str, float]]:
    """Per threshold, over (answerable, probability of answering, first sentence right) for each question: the share
    of answerable questions answered and answered right, the share of unanswerable ones abstained on, and the
    precision of abstaining."""
    positive = [(p, hit) for answerable, p, hit in outcomes if answerable]
    negative = [p for answerable, p, _ in outcomes if not answerable]
    rows = []
    for threshold in np.arange(0.1, 0.91, 0.05) if thresholds is None else thresholds:
        abstained_right = sum(p < threshold for p in negative)
        abstained = abstained_right + sum(p < threshold for p, _ in positive)
        rows.append(
            {
                "threshold": float(threshold),
                "answered": float(np.mean([p >= threshold for p, _ in positive])) if positive else 0.0,
                "right": float(np.mean([p >= threshold and hit for p, hit in positive])) if positive else 0.0,
                "abstain_recall": abstained_right / len(negative) if negative else 0.0,
                "abstain_precision": abstained_right / abstained if abstained else 0.0,
            }
        )
    return rows


def outcomes_of(cases: list[Case], judged: list[tuple[float, bool]]) -> list[tuple[bool, float, bool]]:
    """What trade_off weighs, for cases judged by a model."""
    return [(case.answerable, p, hit) for case, (p, hit) in zip(cases, judged, strict=True)]


def report(label: str, cases: list[Case], judged: list[tuple[float, bool]]) -> None:
    """hit@1 per source and the abstention trade-off of `cases`, as a table."""
    print(f"\n{label}")
    sources = sorted({c.source.removesuffix(NEGATIVE) for c in cases})
    for source in sources:
        hits = [hit for c, (_, hit) in zip(cases, judged, strict=True) if c.source == source and c.answerable]
        print(f"  {source:<16} hit@1 {np.mean(hits):.3f} ({len(hits)} answerable questions)")
    print(f"  {'threshold':>9} {'answered':>9} {'right':>6} {'abstained on unanswerable':>26} {'abstain P':>9}")
    for row in trade_off(outcomes_of(cases, judged)):
        print(
            f"  {row['threshold']:9.2f} {row['answered']:9.3f} {row['right']:6.3f} {row['abstain_recall']:26.3f}"
            f" {row['abstain_precision']:9.3f}"
        )


def python_literal(value, indent: str = "") -> str:
    """A Python literal laid out as ruff formats it: one entry a line, each with its trailing comma."""
    inner = indent + "    "
    if isinstance(value, dict):
        return (
            "{\n"
            + "".join(f"{inner}{python_literal(k)}: {python_literal(v, inner)},\n" for k, v in value.items())
            + indent
            + "}"
        )
    if isinstance(value, list | tuple):
        return "[\n" + "".join(f"{inner}{python_literal(v, inner)},\n" for v in value) + indent + "]"
    return json.dumps(value) if isinstance(value, str) else repr(value)  # double quotes, as ruff writes them


def weights_module(fitted: dict[str, Fitted], manifest: dict) -> str:
    """The text of qa/answer/weights.py: the dense and the BM25 models, and the manifest of their fitting."""
    text = WEIGHTS_FILE_HEADER
    for name, model in fitted.items():
        suffix = "" if name == "dense" else "_BM25"
        ranking = {FEATURES[j]: round(float(v), 3) for j, v in zip(model.columns, model.ranking, strict=True)}
        answerable = {f: round(float(v), 3) for f, v in zip(ANSWERABLE_FEATURES, model.answerable, strict=True)}
        text += f"WEIGHTS{suffix} = {python_literal(ranking)}\n"
        text += f"ANSWERABLE_WEIGHTS{suffix} = {python_literal(answerable)}\n"
        text += f"ANSWERABLE_BIAS{suffix} = {round(model.bias, 3)!r}\n"
    return text + f"MANIFEST = {python_literal(manifest)}\n"


def figures(cases: list[Case], judged: list[tuple[float, bool]], threshold: float) -> dict[str, float]:
    """hit@1 of the answerable questions and abstention at `threshold`, for the manifest."""
    hits = [hit for c, (_, hit) in zip(cases, judged, strict=True) if c.answerable]
    row = trade_off(outcomes_of(cases, judged), [threshold])[0]
    return {
        "hit_at_1": round(float(np.mean(hits)), 4),
        "threshold": threshold,
        "abstain_recall": round(row["abstain_recall"], 4),
        "abstain_precision": round(row["abstain_precision"], 4),
    }


def fitting_parser(program: str, description: str, per_source: tuple[int, str], out: Path) -> argparse.ArgumentParser:
    """The options both fittings take (this one's and qa.eval.fit_joint's)."""
    parser = argparse.ArgumentParser(prog=f"python -m {program}", description=description)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "train", help="the training sets")
    parser.add_argument("--per-source", type=int, default=per_source[0], help=per_source[1])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--folds", type=int, default=5, help="folds of the out-of-fold figures")
    parser.add_argument("--l2", type=float, default=1e-4)
    parser.add_argument("--write", action="store_true", help="write the weights to --out")
    parser.add_argument("--out", type=Path, default=out, help=f"the weights module ({out.relative_to(ROOT)})")
    return parser


def argument_parser() -> argparse.ArgumentParser:
    description = __doc__.split("\n\n")[0]
    return fitting_parser("qa.eval.fit_answer", description, (1500, "questions drawn from each set"), WEIGHTS_MODULE)


def main(argv: list[str] | None = None) -> int:
    from qa.answer.choose import ANSWER_THRESHOLD, ANSWER_THRESHOLD_BM25
    from qa.reader.data import data_hashes

    args = argument_parser().parse_args(argv)
    cases = cases_of(training_samples(args.data, args.per_source, args.seed), f"train-{args.per_source}-{args.seed}")
    fitted, out_of_fold_figures = {}, {}
    for name, columns, threshold in (
        ("dense", list(range(len(FEATURES))), ANSWER_THRESHOLD),
        ("bm25", BM25_FEATURES, ANSWER_THRESHOLD_BM25),
    ):
        judged = out_of_fold(cases, args.folds, columns, args.l2)
        report(f"{name}: out-of-fold ({args.folds} folds)", cases, judged)
        out_of_fold_figures[name] = figures(cases, judged, threshold)
        fitted[name] = fit_both(cases, columns, args.l2)
    answerable = sum(c.answerable for c in cases)
    manifest = {
        "data": data_hashes(args.data),
        "questions": {"answerable": answerable, "unanswerable": len(cases) - answerable, "sets": list(SOURCES)},
        "settings": {"per_source": args.per_source, "seed": args.seed, "l2": args.l2, "folds": args.folds},
        "commit": current_commit(),
        "out_of_fold": out_of_fold_figures,
    }
    text = weights_module(fitted, manifest)
    print("\n" + text)
    if args.write:
        args.out.write_text(text, encoding="utf-8")
        print(f"written to {args.out}")
        if args.out.resolve() == WEIGHTS_MODULE.resolve():  # the joint abstention reads these weights' outputs
            print("now refit how the reader joins the abstention: python -m qa.eval.fit_joint --write")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
