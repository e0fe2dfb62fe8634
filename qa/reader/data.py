"""Training pairs for the reader from the public sets in ../shared/train (see its README; never ../shared/bench).

Every question becomes a group: the sentence that holds its answer (with the answer's character span where the
set gives one) and sentences that do not answer it, hardest first: other sentences of the same paragraph (same
topic, same names, not the fact), a sentence of another paragraph of the same article, and sentences that a
TF-IDF retrieval over the whole pool returns for the question from other documents ("the articles do not say":
the question with its own document removed). Sentences are split by citeqa's own splitter, so the reader is
trained on the units it will be asked about. A sentence that contains one of the question's answers is never
used as a negative. Documents, not questions, are split between training and validation.

`constraint_trap` turns a group into one that nothing answers, the way news questions go unanswered: the
question asks about another year or another name than its answering sentence states ("Who won the 2005 FA
Cup?" over a report of the 2004 final; "Who directed the Goblet of Fire?" over "…who directed the Prisoner of
Azkaban"), so the sentence that answered is now the hardest negative.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from qa.reader.encoding import join_context
from qa.text.sentences import split_sentences

SAME_PARAGRAPH_NEGATIVES = 3
OTHER_PARAGRAPH_NEGATIVES = 1
RETRIEVED_NEGATIVES = 2
SIMILAR_NEGATIVES = 3  # kept with each group (Group.similar)
VALIDATION_SHARE = 0.04  # of documents
_TOKENISED_QUOTES = re.compile(r"``|''")
_SPACE_BEFORE = re.compile(r" ([.,;:!?%)\]}]|'s\b|n't\b|'re\b|'ve\b|'ll\b|'d\b|'m\b)")
_SPACE_AFTER = re.compile(r"([(\[{$]) ")
_YEAR = re.compile(r"\b(1[5-9]\d\d|20\d\d)\b")
_NAME = re.compile(r"(?<!^)\b[A-Z][a-zA-Z]{2,}\b")


@dataclass(frozen=True)
class Item:
    """One (question, sentence) pair of a group: the sentence, what precedes it, and whether it answers."""

    sentence: str
    context: str
    label: float
    span: tuple[int, int] | None = None  # the answer's characters in `sentence`


@dataclass(frozen=True)
class Group:
    """A question with its answering sentence (first, when there is one) and its negatives."""

    question: str
    source: str
    document: str
    items: tuple[Item, ...]
    # The sentences of its own document most like the question that do not answer it (TF-IDF), most alike first:
    # the hardest negatives, which a round may read in place of some random ones (qa.reader.train.Round).
    similar: tuple[Item, ...] = ()


@dataclass
class Document:
    """An article (or post, or review) as paragraphs of sentences, with its headline when it has one."""

    key: str
    source: str
    headline: str
    paragraphs: list[list[str]] = field(default_factory=list)


@dataclass(frozen=True)
class Question:
    """A question whose answer is in `document`'s sentence (paragraph, index), at `span` when known."""

    text: str
    document: Document
    paragraph: int
    index: int
    span: tuple[int, int] | None
    answers: tuple[str, ...]


def question_names(question: str) -> list[str]:
    """The capitalised words of a question after its first word: the names it is constrained by."""
    return _NAME.findall(question)


def constraint_trap(group: Group, names: list[str], rng: random.Random) -> Group | None:
    """The group's question moved to a year, else a name (one of `names`, taken from other questions), that no
    sentence or context of the group states, in place of one its answering sentence states; every sentence
    labelled as not answering. None when the question holds no such year or name."""
    positive = group.items[0]
    everything = " ".join(f"{i.sentence} {i.context}" for i in group.items)
    question = moved_question(group.question, f"{positive.sentence} {positive.context}", everything, names, rng)
    if question is None:
        return None
    return Group(question, group.source, group.document, tuple(Item(i.sentence, i.context, 0.0) for i in group.items))


def moved_question(question: str, stated: str, everything: str, names: list[str], rng: random.Random) -> str | None:
    """`question` with a year it shares with `stated` (the answering text) shifted by one to three, else a name it
    shares with it swapped for one of `names`, to one that `everything` (all the text that could answer) never
    states; None when it holds no such year or name."""
    everything = everything.lower()
    years = [y for y in _YEAR.findall(question) if y in stated]
    if years:
        moved = [str(int(years[0]) + d) for d in (-3, -2, -1, 1, 2, 3) if str(int(years[0]) + d) not in everything]
        old, new = years[0], rng.choice(moved) if moved else None
    else:
        own = [n for n in question_names(question) if n in stated]
        others = [n for n in names if n.lower() not in everything and n not in question]
        old, new = (own[0], rng.choice(others)) if own and others else (None, None)
    if old is None or new is None:
        return None
    return re.sub(rf"\b{re.escape(old)}\b", new, question)


def context_of(document: Document, paragraph: int, index: int) -> str:
    """The headline and the sentence before, as the product gives them (qa.reader.model.context_text)."""
    sentences = document.paragraphs[paragraph]
    previous = sentences[index - 1] if index > 0 else (document.paragraphs[paragraph - 1][-1] if paragraph else "")
    return join_context(document.headline, previous)


def _sentences_with_spans(text: str) -> list[tuple[int, int, str]]:
    return [(s.start, s.end, s.text) for s in split_sentences(text)]


def _locate(spans: list[tuple[int, int, str]], start: int, end: int) -> tuple[int, tuple[int, int] | None] | None:
    """The sentence holding an answer that starts at `start`, and the answer's span in it (None if it runs on)."""
    for i, (s, e, _) in enumerate(spans):
        if s <= start < e:
            return i, ((start - s, end - s) if end <= e else None)
    return None


def squad_questions(path: Path, source: str) -> Iterator[Question]:
    """SQuAD-JSON questions (SQuAD-Shifts): the most given answer's sentence and span."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    for a, article in enumerate(data):
        title = article.get("title", "")
        headline = title.replace("_", " ") if source == "new_wiki" else ""  # the others' titles are ids
        # Reddit's file is one "article" of unrelated posts: there each paragraph is a document.
        parts = [[p] for p in article["paragraphs"]] if source == "reddit" else [article["paragraphs"]]
        for b, paragraphs in enumerate(parts):
            yield from _squad_document(Document(f"{source}:{a}:{b}", source, headline), paragraphs)


def _squad_document(document: Document, paragraphs: list[dict]) -> Iterator[Question]:
    located = []
    for paragraph in paragraphs:
        spans = _sentences_with_spans(paragraph["context"])
        if spans:
            document.paragraphs.append([t for _, _, t in spans])
            located.append((len(document.paragraphs) - 1, spans, paragraph["qas"]))
    for p, spans, qas in located:
        for qa in qas:
            answers = qa.get("answers") or []
            if not answers:
                continue
            text, start = Counter((x["text"], x["answer_start"]) for x in answers).most_common(1)[0][0]
            found = _locate(spans, start, start + len(text))
            if found is not None:
                yield Question(qa["question"], document, p, found[0], found[1], tuple(x["text"] for x in answers))


def nq_questions(path: Path) -> Iterator[Question]:
    """Natural Questions via QED: real queries, a Wikipedia paragraph and the short answer's span."""
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        spans = _sentences_with_spans(record["paragraph_text"])
        if not spans or not record.get("answer_spans"):
            continue
        start, end = record["answer_spans"][0]
        found = _locate(spans, start, end)
        if found is None:
            continue
        document = Document(f"nq:{record['title_text']}", "nq", record["title_text"], [[t for _, _, t in spans]])
        question = _as_question(record["question_text"].strip(), mark=True)
        yield Question(question, document, 0, found[0], found[1], tuple(record.get("answer_text") or ()))


def _as_question(text: str, mark: bool = False) -> str:
    """A set's lower-case question as a user types it: capitalised, and with `mark` ending in a question mark."""
    text = text[:1].upper() + text[1:]
    return text if not mark or text.endswith("?") else f"{text}?"


def detokenise(text: str) -> str:
    """Undo the Du et al. tokenisation ("do n't", `` quotes ``, spaces before commas)."""
    text = _TOKENISED_QUOTES.sub('"', text.strip())
    text = _SPACE_BEFORE.sub(r"\1", text)
    return _SPACE_AFTER.sub(r"\1", text).replace(" n't", "n't")


def du_questions(folder: Path) -> Iterator[Question]:
    """SQuAD-train answer sentences (Du et al. 2017): no paragraphs, so consecutive distinct sentences form the
    document (the file lists an article's sentences in order); no span is given."""
    sentences = [detokenise(s) for s in (folder / "src-test.txt").read_text(encoding="utf-8").splitlines()]
    questions = [detokenise(q) for q in (folder / "tgt-test.txt").read_text(encoding="utf-8").splitlines()]
    distinct = list(dict.fromkeys(sentences))
    position = {s: i for i, s in enumerate(distinct)}
    window = 6
    for question, sentence in zip(questions, sentences, strict=True):
        i = position[sentence]
        lo = max(0, i - window)
        block = distinct[lo : i + window + 1]
        document = Document(f"du:{lo // 50}", "du", "", [block])
        yield Question(_as_question(question), document, 0, i - lo, None, ())


def tweet_questions(path: Path) -> Iterator[Question]:
    """TweetQA: the tweet is the sentence; the answer's span where it occurs verbatim."""
    for n, record in enumerate(json.loads(path.read_text(encoding="utf-8"))):
        tweet = " ".join(record["Tweet"].split())
        answers = tuple(record.get("Answer") or ())
        where = tweet.lower().find(answers[0].lower()) if answers else -1
        span = (where, where + len(answers[0])) if where >= 0 else None
        document = Document(f"tweet:{n}", "tweet", "", [[tweet]])
        yield Question(_as_question(record["Question"].strip()), document, 0, 0, span, answers)


def all_questions(root: Path) -> list[Question]:
    """Every usable question of the four sets, in a fixed order."""
    questions: list[Question] = []
    for name in ("new_wiki", "reddit", "amazon_reviews"):
        questions += squad_questions(root / "squadshifts" / f"{name}_v1.0.json", name)
    questions += nq_questions(root / "nq-qed" / "qed-train.jsonl")
    questions += du_questions(root / "squad-train-du2017")
    questions += tweet_questions(root / "tweetqa" / "train.json")
    return questions


def is_validation(document_key: str) -> bool:
    """A fixed share of documents, by a hash of their key: the same split on every machine and run."""
    digest = hashlib.sha256(document_key.encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < VALIDATION_SHARE


def _contains_answer(sentence: str, answers: Iterable[str]) -> bool:
    low = sentence.lower()
    return any(a and a.lower() in low for a in answers)


def retrieved_negatives(
    questions: list[Question], per_question: int, in_document: int = 0
) -> tuple[list[list[tuple[str, str]]], list[list[tuple[str, str]]]]:
    """For each question, the best TF-IDF matches (with their context) among the sentences of other documents,
    and the `in_document` best among its own document's sentences that do not answer it."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    pool: list[tuple[str, str, str]] = []  # (sentence, context, document key)
    seen: set[str] = set()
    for q in questions:
        if q.document.key in seen:
            continue
        seen.add(q.document.key)
        for p, sentences in enumerate(q.document.paragraphs):
            pool += [(s, context_of(q.document, p, i), q.document.key) for i, s in enumerate(sentences)]
    vectoriser = TfidfVectorizer(sublinear_tf=True, stop_words="english", min_df=2, dtype=np.float32)
    matrix = vectoriser.fit_transform([s for s, _, _ in pool])
    queries = vectoriser.transform([q.text for q in questions])
    chosen: list[list[tuple[str, str]]] = []
    for lo in range(0, len(questions), 1000):
        scores = (queries[lo : lo + 1000] @ matrix.T).tocsr()
        for r, q in enumerate(questions[lo : lo + 1000]):
            row = scores.getrow(r)
            order = row.indices[np.argsort(-row.data, kind="stable")][: per_question * 8]
            picked = [
                (pool[j][0], pool[j][1])
                for j in order
                if pool[j][2] != q.document.key and not _contains_answer(pool[j][0], q.answers)
            ]
            chosen.append(picked[:per_question])
    sentence_rows: dict[int, tuple[list[tuple[int, int, str]], object]] = {}  # a document's, transformed once
    near = []
    for n, q in enumerate(questions):
        if id(q.document) not in sentence_rows:
            flat = [(p, i, s) for p, sentences in enumerate(q.document.paragraphs) for i, s in enumerate(sentences)]
            sentence_rows[id(q.document)] = flat, vectoriser.transform([s for _, _, s in flat])
        near.append(_similar_in_document(q, queries[n], *sentence_rows[id(q.document)], in_document))
    return chosen, near


def _similar_in_document(question: Question, query, flat, rows, count: int) -> list[tuple[str, str]]:
    """The `count` sentences of the question's own document (`flat`: paragraph, index and text of each, `rows` their
    TF-IDF) most like it, with their context, leaving out its answering sentence and any holding one of its answers:
    the lead that restates its premise, the sentence about the same names without the fact."""
    import numpy as np

    if count <= 0:
        return []
    similarity = (rows @ query.T).toarray().ravel()
    picked = []
    for k in np.argsort(-similarity, kind="stable"):
        p, i, text = flat[k]
        if len(picked) == count or similarity[k] <= 0:
            break
        if (p, i) != (question.paragraph, question.index) and not _contains_answer(text, question.answers):
            picked.append((text, context_of(question.document, p, i)))
    return picked


def build_groups(
    questions: list[Question],
    seed: int,
    retrieved: list[list[tuple[str, str]]],
    similar: list[list[tuple[str, str]]],
) -> list[Group]:
    """One group per question: its answer sentence, then its negatives (see the module docstring), and its
    document's sentences most like it (`similar`, from retrieved_negatives)."""
    rng = random.Random(seed)
    groups = []
    for question, far, near in zip(questions, retrieved, similar, strict=True):
        doc = question.document
        sentences = doc.paragraphs[question.paragraph]
        positive = Item(
            sentences[question.index], context_of(doc, question.paragraph, question.index), 1.0, question.span
        )
        same = [i for i, s in enumerate(sentences) if i != question.index and not _contains_answer(s, question.answers)]
        rng.shuffle(same)
        negatives = [
            Item(sentences[i], context_of(doc, question.paragraph, i), 0.0) for i in same[:SAME_PARAGRAPH_NEGATIVES]
        ]
        others = [
            (p, i)
            for p, paragraph in enumerate(doc.paragraphs)
            if p != question.paragraph
            for i, s in enumerate(paragraph)
            if not _contains_answer(s, question.answers)
        ]
        for p, i in rng.sample(others, min(OTHER_PARAGRAPH_NEGATIVES, len(others))):
            negatives.append(Item(doc.paragraphs[p][i], context_of(doc, p, i), 0.0))
        negatives += [Item(s, c, 0.0) for s, c in far]
        alike = tuple(Item(s, c, 0.0) for s, c in near)
        groups.append(Group(question.text, doc.source, doc.key, (positive, *negatives), alike))
    return groups


def load_groups(root: Path, seed: int, limit: int | None = None) -> tuple[list[Group], list[Group]]:
    """Training and validation groups from `root` (../shared/train), shuffled by `seed`; `limit` keeps the
    first questions of each set's shuffled order (the suite's tiny run)."""
    questions = all_questions(root)
    if limit is not None:
        rng = random.Random(seed)
        by_source: dict[str, list[Question]] = {}
        for q in questions:
            by_source.setdefault(q.document.source, []).append(q)
        questions = [q for qs in by_source.values() for q in rng.sample(qs, min(limit, len(qs)))]
    far, near = retrieved_negatives(questions, RETRIEVED_NEGATIVES, SIMILAR_NEGATIVES)
    groups = build_groups(questions, seed, far, near)
    random.Random(seed).shuffle(groups)
    train = [g for g in groups if not is_validation(g.document)]
    validation = [g for g in groups if is_validation(g.document)]
    return train, validation


def data_hashes(root: Path) -> dict[str, str]:
    """SHA-256 of every training file, for the manifest."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "README.md"
    }
