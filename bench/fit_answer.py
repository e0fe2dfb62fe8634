"""Measure the answer model's weights (fitted on training data by `python -m qa.eval.fit_answer`) on the dev sets,
where its threshold is chosen: nothing here fits a weight.

    .venv/bin/python bench/fit_answer.py [--refresh]

Data: the SQuAD dev half (every question; each is asked twice, once as is and once with every paragraph of its
own Wikipedia article removed from the results, which makes it unanswerable) and the BBC dev questions on the BBC
corpus (90 answerable, 30 unanswerable). A candidate sentence is right when it contains a gold answer (SQuAD) or
the evidence string (BBC). Each question's candidate sentences are kept between runs (--refresh retrieves them
again, after changing retrieval or the index); their features are computed again whenever the modules that
compute them change. Printed per data set and mode (with vectors, BM25 only): hit@1 of the feature ranking and
the abstention trade-off (the share of answerable questions answered and answered right against the share of
unanswerable ones abstained on and the precision of abstaining, per threshold on qa.answer.choose.answerable).
The other dev benches (reader_choice.py, answer_signals.py) read the same samples.
"""

from __future__ import annotations

import argparse
import pickle
import tempfile
from pathlib import Path

import numpy as np

from qa.answer.choose import ANSWERABLE_FEATURES, FEATURES
from qa.answer.weights import (
    ANSWERABLE_BIAS,
    ANSWERABLE_BIAS_BM25,
    ANSWERABLE_WEIGHTS,
    ANSWERABLE_WEIGHTS_BM25,
    WEIGHTS,
    WEIGHTS_BM25,
)
from qa.eval.datasets import load_dataset
from qa.eval.evaluate import assistant_for
from qa.eval.fit_answer import BM25_FEATURES, Case, Fitted, Sample, cases_of, collect, report
from qa.pipeline import Assistant

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "bench"
SQUAD = SHARED / "squad-v1.1-dev-half.json"
BBC = SHARED / "bbc-dev.jsonl"
BBC_CORPUS = SHARED / "bbc"
SAMPLES = Path(tempfile.gettempdir()) / "citeqa-dev-samples.pkl"


def load_samples(refresh: bool) -> list[Sample]:
    """Every dev question's candidates, retrieved once and kept in SAMPLES."""
    if refresh or not SAMPLES.exists():
        squad = load_dataset(SQUAD)
        squad_assistant = assistant_for(squad, None, None, None)
        squad_assistant.ensure_index()
        bbc = load_dataset(BBC)
        bbc_assistant = Assistant(corpus=BBC_CORPUS)
        bbc_assistant.ensure_index()
        samples = collect(squad_assistant, squad.questions, lambda _: "squad")
        samples += [s for s in collect(bbc_assistant, bbc.questions, lambda _: "bbc") if s.source == "bbc"]
        SAMPLES.write_bytes(pickle.dumps(samples))
        return samples
    return pickle.loads(SAMPLES.read_bytes())


def load_cases(refresh: bool) -> list[Case]:
    return cases_of(load_samples(refresh), "dev")


def shipped() -> dict[str, Fitted]:
    """The weights in qa/answer/weights.py as the fitting left them."""
    models = {}
    for name, columns, ranking, answerable, bias in (
        ("dense", list(range(len(FEATURES))), WEIGHTS, ANSWERABLE_WEIGHTS, ANSWERABLE_BIAS),
        ("bm25", BM25_FEATURES, WEIGHTS_BM25, ANSWERABLE_WEIGHTS_BM25, ANSWERABLE_BIAS_BM25),
    ):
        models[name] = Fitted(
            columns,
            np.array([ranking.get(FEATURES[j], 0.0) for j in columns]),
            np.array([answerable[f] for f in ANSWERABLE_FEATURES]),
            bias,
        )
    return models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--refresh", action="store_true", help="retrieve every question's candidates again")
    args = parser.parse_args()
    cases = load_cases(args.refresh)
    for name, model in shipped().items():
        for source in ("squad", "bbc"):
            chosen = [c for c in cases if c.source.startswith(source)]
            report(f"{source} dev, {name}: the shipped weights", chosen, [model.judge(c) for c in chosen])


if __name__ == "__main__":
    main()
