"""`citeqa eval`: run a dataset's questions through the Assistant and score retrieval and answers."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from qa.eval.datasets import EvalDataset, EvalQuestion, materialise_corpus
from qa.eval.metrics import (
    abstention_scores,
    gold_rank,
    hit_at,
    ndcg_at_k,
    percentile,
    recall_at_k,
    reciprocal_rank,
    span_exact,
    span_f1,
    unique_in_order,
)
from qa.index.seam import IndexReader, Progress, no_progress
from qa.paths import cache_root
from qa.pipeline import Assistant
from qa.retrieve.filters import Filter
from qa.settings import DEFAULT_SETTINGS, Settings
from qa.text.questions import KINDS

DEFAULT_KS = (1, 3, 5, 10)
# Passages fetched per question: enough that overlapping chunks still cover ten distinct articles
# (Recall@k beyond what this reaches counts what was reached).
PASSAGE_DEPTH = 30


@dataclass
class QuestionResult:
    """One question under one mode: where the gold article ranked, what was cited, and whether it hit."""

    id: str
    question: str
    mode: str
    gold_rank: int | None
    ranked_articles: list[str]
    cited: list[str]
    cited_articles: list[str]
    hit1: bool
    hit3: bool
    abstained: bool
    answerable: bool
    timings: dict[str, float]
    kind: str = "other"
    span: str | None = None
    span_exact: bool = False
    span_f1: float = 0.0


@dataclass
class ModeSummary:
    mode: str
    questions: int
    metrics: dict[str, float] = field(default_factory=dict)
    # question kind -> (questions with gold answers, hit@1 among them): a regression in one kind shows
    by_kind: dict[str, tuple[int, float]] = field(default_factory=dict)


@dataclass
class EvalRun:
    dataset: str
    format: str
    model: str
    corpus: str
    summaries: list[ModeSummary]
    results: list[QuestionResult]
    interrupted: bool = False

    def to_dict(self) -> dict:
        return {
            "dataset": self.dataset,
            "format": self.format,
            "model": self.model,
            "corpus": self.corpus,
            "interrupted": self.interrupted,
            "summary": {
                s.mode: {"questions": s.questions, **s.metrics, "hit@1_by_kind": s.by_kind} for s in self.summaries
            },
            "results": [asdict(r) for r in self.results],
        }


def assistant_for(
    dataset: EvalDataset,
    corpus: Path | None,
    index_dir: Path | str | None,
    model: str | None,
    settings: Settings = DEFAULT_SETTINGS,
    precision: str | None = None,
) -> Assistant:
    """The Assistant over the dataset's own corpus (its index cached by content hash and model unless
    `index_dir` is given) or over the given corpus."""
    if dataset.documents is None:
        return Assistant(corpus=corpus, index_dir=index_dir, model=model, settings=settings, precision=precision)
    corpus_dir = materialise_corpus(dataset, cache_root() / "eval")
    flavour = (model or "default") + ("" if precision in (None, "fp32") else f"\0{precision}")
    index_dir = index_dir or corpus_dir.parent / f"index-{hashlib.sha1(flavour.encode()).hexdigest()[:8]}"
    return Assistant(corpus=corpus_dir, index_dir=index_dir, model=model, settings=settings, precision=precision)


def copy_ids(index: IndexReader, article_id: str) -> list[str]:
    return [copy.id for copy in index.copies(article_id)]


def evaluate_question(
    assistant: Assistant, item: EvalQuestion, mode: str, only: Filter | None = None
) -> QuestionResult:
    answer = assistant.ask(item.question, k=PASSAGE_DEPTH, mode=mode, only=only)
    # A passage stands for every copy of its story (qa.ingest.duplicates): the copies are cited as "also in".
    shown = [p.chunk.article_id for p in answer.passages]
    ranked = unique_in_order([a for article in shown for a in (article, *copy_ids(assistant.index, article))])
    cited = [c.sentence for c in answer.citations]
    span = answer.span.text if answer.span else None
    gold = item.gold_strings
    return QuestionResult(
        id=item.id,
        question=item.question,
        mode=mode,
        gold_rank=gold_rank(ranked, item.gold_docs) if item.gold_docs else None,
        ranked_articles=ranked,
        cited=cited,
        cited_articles=[c.article_id for c in answer.citations],
        hit1=bool(gold) and hit_at(cited, gold, 1),
        hit3=bool(gold) and hit_at(cited, gold, 3),
        abstained=not answer.answered,
        answerable=item.answerable,
        timings=answer.timings,
        kind=answer.kind,
        span=span,
        span_exact=span_exact(span, item.answers),
        span_f1=span_f1(span, item.answers),
    )


def metric_names(ks: Sequence[int], questions: Sequence[EvalQuestion] | None = None) -> list[str]:
    """The metrics a run reports, in `summarise`'s order; given the questions, only those they can measure."""
    every = questions is None
    names = []
    if every or any(q.gold_docs for q in questions):
        names += [f"recall@{k}" for k in ks] + ["mrr@10", "ndcg@10"]
    if every or any(q.gold_strings for q in questions):
        names += ["hit@1", "hit@3"]
    if every or any(q.answers and q.answerable for q in questions):
        names += ["span_em", "span_f1"]
    if every or any(not q.answerable for q in questions):
        names += ["abstain_precision", "abstain_recall"]
    return names + [f"{stage}_{p}_ms" for stage in ("embed", "search", "answer") for p in ("p50", "p95")]


def summarise(mode: str, results: Sequence[QuestionResult], questions: Sequence[EvalQuestion], ks) -> ModeSummary:
    by_id = {q.id: q for q in questions}
    metrics: dict[str, float] = {}
    with_gold = [r for r in results if by_id[r.id].gold_docs]
    if with_gold:
        for k in ks:
            metrics[f"recall@{k}"] = _mean(recall_at_k(r.ranked_articles, by_id[r.id].gold_docs, k) for r in with_gold)
        metrics["mrr@10"] = _mean(reciprocal_rank(r.ranked_articles, by_id[r.id].gold_docs) for r in with_gold)
        metrics["ndcg@10"] = _mean(ndcg_at_k(r.ranked_articles, by_id[r.id].gold_docs) for r in with_gold)
    with_answers = [r for r in results if by_id[r.id].gold_strings]
    by_kind = {}
    if with_answers:
        metrics["hit@1"] = _mean(r.hit1 for r in with_answers)
        metrics["hit@3"] = _mean(r.hit3 for r in with_answers)
        for kind in KINDS:
            of_kind = [r for r in with_answers if r.kind == kind]
            if of_kind:
                by_kind[kind] = (len(of_kind), round(_mean(r.hit1 for r in of_kind), 4))
    with_spans = [r for r in results if by_id[r.id].answers and by_id[r.id].answerable]
    if with_spans:
        metrics["span_em"] = _mean(r.span_exact for r in with_spans)
        metrics["span_f1"] = _mean(r.span_f1 for r in with_spans)
    if any(not r.answerable for r in results):
        precision, recall = abstention_scores([r.abstained for r in results], [r.answerable for r in results])
        metrics["abstain_precision"] = precision
        metrics["abstain_recall"] = recall
    for stage in ("embed", "search", "answer"):
        values = [r.timings.get(f"{stage}_ms", 0.0) for r in results]
        metrics[f"{stage}_p50_ms"] = percentile(values, 50)
        metrics[f"{stage}_p95_ms"] = percentile(values, 95)
    return ModeSummary(mode, len(results), {k: round(v, 4) for k, v in metrics.items()}, by_kind)


def run_eval(
    dataset: EvalDataset,
    assistant: Assistant,
    modes: Sequence[str],
    ks: Sequence[int] = DEFAULT_KS,
    progress: Progress = no_progress,
    only: Filter | None = None,
) -> EvalRun:
    """Every question under every mode (within the articles `only` allows); Ctrl+C ends the run early with the
    results so far."""
    results: list[QuestionResult] = []
    summaries = []
    interrupted = False
    for mode in modes:
        assistant.forget_questions()  # each mode's latency includes embedding its questions
        mode_results = []
        try:
            for i, item in enumerate(dataset.questions, 1):
                mode_results.append(evaluate_question(assistant, item, mode, only))
                progress(f"eval {mode}", i, len(dataset.questions))
        except KeyboardInterrupt:
            interrupted = True
        if mode_results:
            summaries.append(summarise(mode, mode_results, dataset.questions, ks))
        results += mode_results
        if interrupted:
            break
    return EvalRun(
        dataset.name, dataset.format, assistant.model_id, str(assistant.corpus), summaries, results, interrupted
    )


def _mean(values) -> float:
    values = [float(v) for v in values]
    return sum(values) / len(values) if values else 0.0
