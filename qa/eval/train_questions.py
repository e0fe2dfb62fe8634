"""The answer model's training questions (qa.eval.fit_answer): SQuAD-style questions of four training sets over a
corpus of their own articles, each with a form moved to a year or a name its article never states."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

from qa.eval.datasets import EvalDataset, EvalQuestion
from qa.reader.data import is_validation, moved_question, question_names

SOURCES = ("new_wiki", "nq", "reddit", "amazon_reviews")
TRAP = "~moved"  # suffix of a moved question's id


def _question_text(text: str) -> str:
    """A lower-case Natural Questions query as a user types it: capitalised, with a question mark."""
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith("?") else f"{text}?"


def training_dataset(root: Path, per_source: int, seed: int, held_out: bool = False) -> EvalDataset:
    """`per_source` questions of each of SOURCES with the documents of their articles, and a moved form of each
    that has a year or a name to move. Document ids are `<article>p<paragraph>`, so an article is its ids' prefix.
    `held_out`: only questions of the documents the reader never trained on (its validation split)."""
    rng = random.Random(seed)
    documents: dict[str, tuple[str, str]] = {}
    drawn: list[tuple[EvalQuestion, str]] = []  # with the text of its whole article
    for source in SOURCES:
        pool = _nq(root, documents) if source == "nq" else _squadshifts(root, source, documents)
        pool = [(question, whole) for question, whole, key in pool if not held_out or is_validation(key)]
        drawn += rng.sample(pool, min(per_source, len(pool)))
    wanted = {article_of(d) for question, _ in drawn for d in question.gold_docs}
    documents = {d: v for d, v in documents.items() if article_of(d) in wanted}
    names = [n for question, _ in drawn for n in question_names(question.question)]
    questions = []
    for question, article_text in drawn:
        questions.append(question)
        stated = " ".join(documents[d][1] for d in question.gold_docs)
        moved = moved_question(question.question, stated, article_text, names, rng)
        if moved is not None:
            trap = EvalQuestion(f"{question.id}{TRAP}", moved, gold_docs=question.gold_docs, answerable=False)
            questions.append(trap)
    digest = hashlib.sha256(json.dumps([per_source, seed, sorted(documents.items())]).encode()).hexdigest()[:16]
    return EvalDataset("train", "train", questions, digest, documents)


def article_of(doc_id: str) -> str:
    """The article of a document id (`<article>p<paragraph>`)."""
    return doc_id.rpartition("p")[0]


def _squadshifts(root: Path, source: str, documents: dict[str, tuple[str, str]]) -> list[tuple[EvalQuestion, str, str]]:
    """SQuAD-Shifts questions, each with its whole article's text and the reader's key for its document
    (qa.reader.data.squad_questions): Reddit's one "article" is unrelated posts, so there each post is an article."""
    data = json.loads((root / "squadshifts" / f"{source}_v1.0.json").read_text(encoding="utf-8"))["data"]
    letter = source[0]
    found = []
    for a, article in enumerate(data):
        title = article.get("title", "").replace("_", " ") if source == "new_wiki" else ""  # the others' are ids
        paragraphs = article["paragraphs"]
        for p, paragraph in enumerate(paragraphs):
            key = f"{letter}{a:04d}x{p:05d}" if source == "reddit" else f"{letter}{a:04d}"
            doc_id = f"{key}p{0 if source == 'reddit' else p:03d}"
            documents[doc_id] = (title, paragraph["context"])
            whole = paragraph["context"] if source == "reddit" else " ".join(x["context"] for x in paragraphs)
            for qa in paragraph["qas"]:
                answers = tuple(dict.fromkeys(x["text"] for x in qa.get("answers") or ()))
                if answers:
                    question = EvalQuestion(f"{source}:{qa['id']}", qa["question"], answers, {doc_id: 1})
                    found.append((question, whole, f"{source}:{a}:{p if source == 'reddit' else 0}"))
    return found


def _nq(root: Path, documents: dict[str, tuple[str, str]]) -> list[tuple[EvalQuestion, str, str]]:
    """Natural Questions (QED): the paragraphs of one Wikipedia title form its article (the reader's document is
    one paragraph under the title's key, so the split is by title)."""
    numbers: dict[str, int] = {}  # title -> article number
    paragraphs: dict[str, dict[str, str]] = {}  # title -> paragraph text -> document id
    found = []
    for n, line in enumerate((root / "nq-qed" / "qed-train.jsonl").read_text(encoding="utf-8").splitlines()):
        record = json.loads(line)
        answers = tuple(a for a in record.get("answer_text") or () if a)
        if not answers:
            continue
        title, text = record["title_text"], record["paragraph_text"]
        number = numbers.setdefault(title, len(numbers))
        article = paragraphs.setdefault(title, {})
        if text not in article:
            article[text] = f"n{number:05d}p{len(article):03d}"
            documents[article[text]] = (title, text)
        question = EvalQuestion(f"nq:{n}", _question_text(record["question_text"]), answers, {article[text]: 1})
        found.append((question, title))
    whole = {title: " ".join(article) for title, article in paragraphs.items()}
    return [(question, whole[title], f"nq:{title}") for question, title in found]
