"""Choose how the answer step uses the reader, on the dev sets (never used to fit the reader's weights).

    .venv/bin/python bench/reader_choice.py [--model-dir qa/reader/model]

Data: bench/fit_answer.py's samples (--squad-questions of the SQuAD dev half, a fixed sample, each also asked with
its own article removed, which makes it unanswerable; BBC dev, 90 answerable and 30 unanswerable). For each
question the answer step's current ranking orders the candidate sentences; the reader reads the best N
of them. Printed, per choice:
- ranking: hit@1 of the answerable questions when the first sentence is the reader's best, for N candidates read,
  the reader's logit plus w times the linear ranking's score, and with or without context;
- abstention: for each threshold on the reader's probability of its best sentence, the share of answerable
  questions answered right (hit@1 counts an abstention as a miss) and the precision and recall of abstaining,
  alone and together with the feature model's abstention (qa.answer.choose.answerable at its threshold: abstain when
  either says so);
- spans: span F1 on the answerable questions of the reader's span against the typed span (qa.answer.span) and both.
"""

from __future__ import annotations

import argparse
import hashlib
import pickle
import random
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from fit_answer import BBC, SQUAD, load_samples

from qa.answer.choose import ANSWER_THRESHOLD, answerable, score
from qa.answer.span import answer_span
from qa.eval.datasets import load_dataset
from qa.eval.metrics import contains_gold, span_f1
from qa.reader.model import MODEL_DIR, Reader, context_text
from qa.text.questions import analyse_question

ROOT = Path(__file__).resolve().parents[1]
MAX_READ = 12
CACHE_FORMAT = 2  # of the cached readings (Read); a new field is a new format


@dataclass
class Read:
    """One question: its candidates in the linear ranking's order with labels, scores and the reader's logits."""

    source: str
    answerable: bool
    labels: np.ndarray
    linear: np.ndarray
    logits: dict[bool, np.ndarray]  # with context -> logits of the first MAX_READ candidates (without: BBC and
    # every fourth SQuAD sample, to save time)
    probabilities: np.ndarray  # with context
    spans: list[str]  # the reader's span in each candidate read (with context)
    typed: list[str | None]  # qa.answer.span's typed span in each candidate read
    answers: tuple[str, ...]
    feature_answerable: float  # the feature model's probability that the question is answered (qa.answer.choose)


def read_all(reader: Reader, samples) -> list[Read]:
    answers = {q.id: q.answers for name in (SQUAD, BBC) for q in load_dataset(name).questions}
    out = []
    for n, sample in enumerate(samples):
        question = analyse_question(sample.question)
        by_features = score(question, sample.candidates, sample.idf)
        scored = sorted(by_features, key=lambda s: -s.score)[:MAX_READ]
        if not scored:
            continue
        texts = [s.candidate.sentence.text for s in scored]
        logits, spans, probabilities = {}, [], None
        for with_context in (True, False) if sample.source == "bbc" or n % 4 == 0 else (True,):
            contexts = [context_text(s.candidate.context, s.candidate.headline) if with_context else "" for s in scored]
            readings = reader.read(sample.question, texts, contexts)
            logits[with_context] = np.array([r.logit for r in readings])
            if with_context:
                probabilities = np.array([r.probability for r in readings])
                spans = [t[r.span[0] : r.span[1]] for t, r in zip(texts, readings, strict=True)]
        typed = [(lambda m, t: t[m.start : m.end] if m else None)(answer_span(question, t), t) for t in texts]
        labels = np.array([bool(sample.gold) and contains_gold(t, sample.gold) for t in texts])
        linear = np.array([s.score for s in scored])
        out.append(
            Read(
                sample.source,
                sample.answerable,
                labels,
                linear,
                logits,
                probabilities,
                spans,
                typed,
                tuple(answers.get(sample.question_id, ())),
                answerable(question, by_features),
            )
        )
        if n % 500 == 0:
            print(f"read {n} of {len(samples)}", file=sys.stderr, flush=True)
    return out


def ranking_table(reads: list[Read]) -> None:
    print("\n## Ranking: hit@1 of the reader's first sentence (answerable questions, no abstention)\n")
    print("| read | w (linear) | context | SQuAD | BBC |")
    print("|---|---|---|---|---|")
    base = {s: np.mean([r.labels[0] for r in reads if r.source == s and r.answerable]) for s in ("squad", "bbc")}
    print(f"| linear only | | | {base['squad']:.3f} | {base['bbc']:.3f} |")
    for n in (4, 6, 8, 12):
        for w in (0.0, 0.25, 0.5, 1.0):
            for with_context in (True, False):
                hits = {}
                for s in ("squad", "bbc"):
                    rows = [r for r in reads if r.source == s and r.answerable and with_context in r.logits]
                    hits[s] = np.mean(
                        [r.labels[int(np.argmax(r.logits[with_context][:n] + w * r.linear[:n]))] for r in rows]
                    )
                print(f"| {n} | {w} | {'yes' if with_context else 'no'} | {hits['squad']:.3f} | {hits['bbc']:.3f} |")


def abstention_table(reads: list[Read], n: int, w: float) -> None:
    for with_features in (False, True):
        also = f" or the feature model's below {ANSWER_THRESHOLD}" if with_features else ""
        print(f"\n## Abstention when the reader's probability is below the threshold{also} (read {n}, w {w})\n")
        print("| threshold | SQuAD hit@1 | SQuAD abstain P / R | BBC hit@1 | BBC abstain P / R |")
        print("|---|---|---|---|---|")
        for threshold in (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7):
            cells = []
            for s in ("squad", "bbc"):
                rows = [r for r in reads if r.source.startswith(s)]
                best = [int(np.argmax(r.logits[True][:n] + w * r.linear[:n])) for r in rows]
                answered = [
                    r.probabilities[b] >= threshold and (not with_features or r.feature_answerable >= ANSWER_THRESHOLD)
                    for r, b in zip(rows, best, strict=True)
                ]
                hit = [a and r.labels[b] for r, b, a in zip(rows, best, answered, strict=True) if r.answerable]
                abstained = [not a for a in answered]
                true_abstentions = sum(1 for r, x in zip(rows, abstained, strict=True) if x and not r.answerable)
                precision = true_abstentions / max(1, sum(abstained))
                recall = true_abstentions / max(1, sum(1 for r in rows if not r.answerable))
                cells += [f"{np.mean(hit):.3f}", f"{precision:.2f} / {recall:.2f}"]
            print(f"| {threshold} | " + " | ".join(cells) + " |")


def span_table(reads: list[Read], n: int, w: float) -> None:
    print(f"\n## Span F1 of the first sentence's span (read {n}, w {w}; answerable questions with answers)\n")
    print("| span | SQuAD | BBC |")
    print("|---|---|---|")
    for name in ("reader", "typed", "typed, else reader", "typed inside the reader's, else reader"):
        cells = []
        for s in ("squad", "bbc"):
            rows = [r for r in reads if r.source == s and r.answerable and r.answers]
            f1 = []
            for r in rows:
                b = int(np.argmax(r.logits[True][:n] + w * r.linear[:n]))
                inside = r.typed[b] if r.typed[b] and r.typed[b] in r.spans[b] else r.spans[b]
                span = {
                    "reader": r.spans[b],
                    "typed": r.typed[b],
                    "typed, else reader": r.typed[b] or r.spans[b],
                    "typed inside the reader's, else reader": inside,
                }[name]
                f1.append(span_f1(span, r.answers))
            cells.append(f"{np.mean(f1):.3f}")
        print(f"| {name} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, default=MODEL_DIR)
    parser.add_argument("--read", type=int, default=6, help="candidates read, for the abstention and span tables")
    parser.add_argument("--weight", type=float, default=0.25, help="the linear score's weight, for those tables")
    parser.add_argument("--bbc-only", action="store_true", help="read the BBC questions only (seconds, not minutes)")
    parser.add_argument("--squad-questions", type=int, default=1500, help="SQuAD questions read (a fixed sample)")
    args = parser.parse_args()
    squad = 0 if args.bbc_only else args.squad_questions
    # the readings depend on the reader and, through the linear scores read with them, on the feature weights
    key = hashlib.sha256(
        (args.model_dir / "reader.onnx").read_bytes() + (ROOT / "qa" / "answer" / "weights.py").read_bytes()
    ).hexdigest()[:16]
    cached = Path(tempfile.gettempdir()) / f"citeqa-reader-choice-{CACHE_FORMAT}-{key}-{squad}.pkl"
    if cached.exists():
        reads = pickle.loads(cached.read_bytes())
    else:
        samples = load_samples(False)
        squad_ids = sorted({s.question_id for s in samples if s.source.startswith("squad")})
        kept = set(random.Random(7).sample(squad_ids, min(squad, len(squad_ids))))
        samples = [s for s in samples if s.source == "bbc" or s.question_id in kept]
        reads = read_all(Reader(args.model_dir), samples)
        cached.write_bytes(pickle.dumps(reads))
    ranking_table(reads)
    abstention_table(reads, args.read, args.weight)
    span_table(reads, args.read, args.weight)


if __name__ == "__main__":
    main()
