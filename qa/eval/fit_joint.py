"""Fit how the answer step abstains when the reader has read: a logistic model joining the feature model's
probability (qa.answer.weights, fitted by qa.eval.fit_answer) with the reader's logit of the sentence it would
cite, written to qa/answer/joint_weights.py:

    .venv/bin/python -m qa.eval.fit_joint --data ../shared/train [--write]

Data: every question of the four training sets whose document the reader never trained on (its validation split,
qa.reader.data.is_validation), asked as it is, without its own article and moved to a year or a name it never
states, as qa.eval.fit_answer asks its own (on which the reader did train, so its logits there would be too sure).
Each is scored, read and judged exactly as qa.answer.choose does at question time, with the shipped feature
weights and reader; the answerable and the unanswerable questions weigh the same. Out-of-fold figures are printed
and kept in the MANIFEST with the SHA-256 of the feature weights and the reader it was fitted against (the suite
checks they are still the shipped ones); the dev sets set the threshold (bench/abstention.py).
"""

from __future__ import annotations

import argparse
import hashlib

import numpy as np

from qa.answer.choose import JOINT_FEATURES, feature_probability, joint_row, of_asked_type, read, score
from qa.eval.fit_answer import (
    ROOT,
    Sample,
    fit_answerable,
    fitting_parser,
    folds_of,
    python_literal,
    trade_off,
    training_samples,
)
from qa.eval.train_questions import SOURCES, TRAP
from qa.provenance import current_commit
from qa.text.questions import analyse_question

JOINT_MODULE = ROOT / "qa" / "answer" / "joint_weights.py"
FITTED_AGAINST = ("qa/answer/weights.py", "qa/reader/model/manifest.json")
HEADER = '''"""The answer step's abstention when the reader has read (qa/answer/choose.py), by
`python -m qa.eval.fit_joint --write`. Do not edit by hand.

A logistic model over JOINT_FEATURES: the feature model's log-odds that the articles answer and the reader's logit
of the sentence citeqa would cite. Fitted on the training questions of the reader's validation documents only;
MANIFEST says on what, against which feature weights and reader, and how well out of fold.
"""

'''


def fitted_against() -> dict[str, str]:
    """The SHA-256 of the files whose outputs the joint model reads: refit it when one changes."""
    return {name: hashlib.sha256((ROOT / name).read_bytes()).hexdigest() for name in FITTED_AGAINST}


def joint_case(sample: Sample, reader, dense: bool) -> tuple[np.ndarray, bool] | None:
    """The joint row of a sample as qa.answer.choose builds it, and whether the sentence it would cite answers;
    None when no read candidate is of the asked type (the feature model alone judges those)."""
    from qa.eval.metrics import contains_gold

    question = analyse_question(sample.question)
    scored = score(question, sample.candidates, sample.idf, dense)
    typed = of_asked_type(question, read(reader, sample.question, scored)) if scored else []
    if not typed or typed[0].reading is None:
        return None
    row = joint_row(feature_probability(question, typed, dense), typed[0].reading)
    right = bool(sample.gold) and contains_gold(typed[0].candidate.sentence.text, sample.gold)
    return row, right


def out_of_fold(rows: np.ndarray, y: np.ndarray, keys: list[str], folds: int, l2: float) -> np.ndarray:
    """Each row's probability from a model fitted without its question's fold (its other forms share it)."""
    fold = np.array(folds_of(keys, folds))
    p = np.zeros(len(y))
    for f in range(folds):
        weights, bias = fit_answerable(rows[fold != f], y[fold != f], l2)
        p[fold == f] = 1 / (1 + np.exp(-(rows[fold == f] @ weights + bias)))
    return p


def argument_parser() -> argparse.ArgumentParser:
    description = __doc__.split("\n\n")[0]
    return fitting_parser("qa.eval.fit_joint", description, (100_000, "at most this many of each set"), JOINT_MODULE)


def main(argv: list[str] | None = None) -> int:
    from qa.reader.data import data_hashes
    from qa.reader.model import Reader

    args = argument_parser().parse_args(argv)
    samples = training_samples(args.data, args.per_source, args.seed, held_out=True)
    reader = Reader()
    text, figures, counts = HEADER, {}, {}
    for name, dense in (("dense", True), ("bm25", False)):
        judged = [(s, joint_case(s, reader, dense)) for s in samples]
        kept = [(s, case) for s, case in judged if case is not None]
        rows = np.array([case[0] for _, case in kept])
        y = np.array([s.answerable for s, _ in kept], dtype=bool)
        keys = [s.question_id.removesuffix(TRAP) for s, _ in kept]
        p = out_of_fold(rows, y, keys, args.folds, args.l2)
        outcomes = [(bool(a), float(q), case[1]) for a, q, (_, case) in zip(y, p, kept, strict=True)]
        alone = [(a, float(1 / (1 + np.exp(-r[0]))), hit) for (a, _, hit), r in zip(outcomes, rows, strict=True)]
        counts[name] = {"answerable": int(y.sum()), "unanswerable": int((~y).sum())}
        print(f"\n{name}: {counts[name]}; out of fold, and the feature model alone")
        for row, before in zip(trade_off(outcomes), trade_off(alone), strict=True):
            print(
                f"  {row['threshold']:5.2f} answered {row['answered']:.3f} right {row['right']:.3f}"
                f" abstain P {row['abstain_precision']:.3f} R {row['abstain_recall']:.3f}"
                f"  | alone: right {before['right']:.3f} abstain P {before['abstain_precision']:.3f}"
                f" R {before['abstain_recall']:.3f}"
            )
        figures[name] = [{k: round(v, 4) for k, v in row.items()} for row in trade_off(outcomes, (0.3, 0.5, 0.7))]
        weights, bias = fit_answerable(rows, y, args.l2)
        suffix = "" if dense else "_BM25"
        named = {f: round(float(w), 3) for f, w in zip(JOINT_FEATURES, weights, strict=True)}
        text += f"JOINT_WEIGHTS{suffix} = {python_literal(named)}\n"
        text += f"JOINT_BIAS{suffix} = {round(bias, 3)!r}\n"
    manifest = {
        "data": data_hashes(args.data),
        "questions": {"sets": list(SOURCES), "held_out": "the reader's validation documents", **counts},
        "settings": {"per_source": args.per_source, "seed": args.seed, "l2": args.l2, "folds": args.folds},
        "fitted_against": fitted_against(),
        "commit": current_commit(),
        "out_of_fold": figures,
    }
    text += f"MANIFEST = {python_literal(manifest)}\n"
    print("\n" + text)
    if args.write:
        args.out.write_text(text, encoding="utf-8")
        print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
