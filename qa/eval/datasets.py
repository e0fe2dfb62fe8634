"""Evaluation datasets: our JSONL question files, SQuAD v1.1 JSON, and BEIR folders.

Each loader returns an `EvalDataset`; a malformed input is reported with its file and line.
SQuAD and BEIR bring their own documents, which become a corpus folder of .txt files (one per paragraph or
document) so they are indexed exactly as a user's articles would be.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from qa.errors import CiteqaError, UsageError


class DatasetError(CiteqaError):
    """A malformed dataset file; the message names the file and the line."""


@dataclass(frozen=True)
class EvalQuestion:
    """A question with its gold articles (id -> graded relevance), answer strings and evidence strings."""

    id: str
    question: str
    answers: tuple[str, ...] = ()
    gold_docs: dict[str, int] = field(default_factory=dict)
    evidence: tuple[str, ...] = ()
    answerable: bool = True

    @property
    def gold_strings(self) -> tuple[str, ...]:
        """What a cited sentence must contain to count: the evidence where given, else the answers."""
        return self.evidence or self.answers


@dataclass
class EvalDataset:
    name: str
    format: str
    questions: list[EvalQuestion]
    content_hash: str
    documents: dict[str, tuple[str, str]] | None = None  # id -> (title, text), for formats that bring a corpus


def detect_format(path: Path) -> str:
    if path.is_dir():
        if (path / "corpus.jsonl").exists() and (path / "queries.jsonl").exists():
            return "beir"
        raise UsageError(f"'{path}' is a folder but not a BEIR dataset (corpus.jsonl, queries.jsonl, qrels/test.tsv)")
    if path.suffix == ".jsonl":
        return "jsonl"
    if path.suffix == ".json":
        return "squad"
    raise UsageError(f"cannot tell the format of '{path}': use .jsonl (citeqa), .json (SQuAD) or a BEIR folder")


def load_dataset(path: Path) -> EvalDataset:
    if not path.exists():
        raise UsageError(f"dataset '{path}' does not exist")
    loader = {"jsonl": load_jsonl, "squad": load_squad, "beir": load_beir}[detect_format(path)]
    return loader(path)


def _hash_files(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _lines(path: Path):
    """(line number, text) of a UTF-8 file; a line that is not UTF-8 is an error naming the file and line."""
    with path.open("rb") as handle:
        for line_no, raw in enumerate(handle, 1):
            try:
                yield line_no, raw.decode("utf-8-sig" if line_no == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise DatasetError(f"{path}:{line_no}: not UTF-8 text (byte {exc.start + 1})") from None


def _jsonl_records(path: Path):
    for line_no, line in _lines(path):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}:{line_no}: not valid JSON ({exc.msg})") from None
        if not isinstance(record, dict):
            raise DatasetError(f"{path}:{line_no}: expected a JSON object")
        yield line_no, record


def _require(record: dict, key: str, kind: type | tuple[type, ...], where: str):
    if key not in record:
        raise DatasetError(f"{where}: missing '{key}'")
    if not isinstance(record[key], kind):
        raise DatasetError(f"{where}: '{key}' has the wrong type")
    return record[key]


def _question(record: dict, key: str, where: str) -> str:
    """A question that `citeqa ask` would accept: checked here, so a bad one is named before any run."""
    from qa.text.questions import validate_question

    try:
        return validate_question(_require(record, key, str, where))
    except UsageError as exc:
        raise DatasetError(f"{where}: {str(exc).split(';')[0]}") from None


def load_jsonl(path: Path) -> EvalDataset:
    """citeqa's own format: one object a line with id, question, answers, docs, evidence, answerable."""
    questions = []
    for line_no, record in _jsonl_records(path):
        where = f"{path}:{line_no}"
        strings = {key: _require(record, key, list, where) for key in ("answers", "docs", "evidence")}
        if not all(isinstance(v, str) for values in strings.values() for v in values):
            raise DatasetError(f"{where}: answers, docs and evidence must be lists of strings")
        answerable = _require(record, "answerable", bool, where)
        if answerable and not (strings["evidence"] or strings["answers"]):
            raise DatasetError(f"{where}: an answerable question needs evidence or answers")
        questions.append(
            EvalQuestion(
                id=str(_require(record, "id", (str, int), where)),
                question=_question(record, "question", where),
                answers=tuple(strings["answers"]),
                gold_docs=dict.fromkeys(strings["docs"], 1),
                evidence=tuple(strings["evidence"]),
                answerable=answerable,
            )
        )
    if not questions:
        raise DatasetError(f"{path}: no questions")
    return EvalDataset(path.stem, "jsonl", questions, _hash_files(path))


def load_squad(path: Path) -> EvalDataset:
    """SQuAD v1.1: every paragraph is an article; a question's gold article is its paragraph."""
    raw = path.read_bytes()
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        line_no = raw.count(b"\n", 0, exc.start) + 1
        raise DatasetError(f"{path}:{line_no}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise DatasetError(f"{path}:1: not SQuAD JSON (no top-level 'data' list)")
    documents: dict[str, tuple[str, str]] = {}
    questions = []
    for a, article in enumerate(data["data"]):
        where = f"{path}: data[{a}]"
        title = str(_require(article, "title", str, where)).replace("_", " ")
        for p, paragraph in enumerate(_require(article, "paragraphs", list, where)):
            where_p = f"{where}.paragraphs[{p}]"
            doc_id = f"a{a:03d}p{p:03d}"
            documents[doc_id] = (title, _require(paragraph, "context", str, where_p))
            for q, qa in enumerate(_require(paragraph, "qas", list, where_p)):
                where_q = f"{where_p}.qas[{q}]"
                answers = [_require(x, "text", str, where_q) for x in _require(qa, "answers", list, where_q)]
                questions.append(
                    EvalQuestion(
                        id=str(_require(qa, "id", str, where_q)),
                        question=_question(qa, "question", where_q),
                        answers=tuple(dict.fromkeys(answers)),
                        gold_docs={doc_id: 1},
                        answerable=bool(answers),
                    )
                )
    if not questions:
        raise DatasetError(f"{path}: no questions")
    return EvalDataset(path.stem, "squad", questions, _hash_files(path), documents)


def load_beir(path: Path) -> EvalDataset:
    """BEIR: corpus.jsonl (_id, title, text), queries.jsonl (_id, text), qrels/test.tsv (graded)."""
    documents = {}
    for line_no, record in _jsonl_records(path / "corpus.jsonl"):
        where = f"{path / 'corpus.jsonl'}:{line_no}"
        doc_id = str(_require(record, "_id", (str, int), where))
        documents[_safe_id(doc_id)] = (str(record.get("title") or ""), _require(record, "text", str, where))
    queries = {}
    for line_no, record in _jsonl_records(path / "queries.jsonl"):
        where = f"{path / 'queries.jsonl'}:{line_no}"
        queries[str(_require(record, "_id", (str, int), where))] = _question(record, "text", where)
    qrels_path = path / "qrels" / "test.tsv"
    if not qrels_path.exists():
        raise DatasetError(f"{qrels_path}: missing (BEIR relevance judgements)")
    qrels: dict[str, dict[str, int]] = {}
    for line_no, line in _lines(qrels_path):
        row = next(csv.reader([line.rstrip("\r\n")], delimiter="\t"), [])
        if not row or (line_no == 1 and row[0] == "query-id"):
            continue
        if len(row) != 3:
            raise DatasetError(f"{qrels_path}:{line_no}: expected query-id, corpus-id, score")
        try:
            score = int(row[2])
        except ValueError:
            raise DatasetError(f"{qrels_path}:{line_no}: score '{row[2]}' is not an integer") from None
        if row[0] not in queries:
            raise DatasetError(f"{qrels_path}:{line_no}: unknown query id '{row[0]}'")
        if _safe_id(row[1]) not in documents:
            raise DatasetError(f"{qrels_path}:{line_no}: unknown corpus id '{row[1]}'")
        if score > 0:
            qrels.setdefault(row[0], {})[_safe_id(row[1])] = score
    questions = [EvalQuestion(id=qid, question=queries[qid], gold_docs=gold) for qid, gold in qrels.items()]
    if not questions:
        raise DatasetError(f"{qrels_path}: no judged queries")
    content = _hash_files(path / "corpus.jsonl", path / "queries.jsonl", qrels_path)
    return EvalDataset(path.name, "beir", questions, content, documents)


def _safe_id(doc_id: str) -> str:
    """A document id usable as a file name (ids become article ids through file stems)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in doc_id).lstrip(".") or "_"


def materialise_corpus(dataset: EvalDataset, root: Path) -> Path:
    """Write the dataset's documents as .txt files (title line, blank line, text) once; reuse afterwards."""
    target = root / f"{dataset.format}-{dataset.content_hash}" / "corpus"
    if target.is_dir():
        return target
    temp = target.with_name(f"tmp-{uuid.uuid4().hex[:8]}")
    temp.mkdir(parents=True)
    for doc_id, (title, text) in dataset.documents.items():
        body = f"{title}\n\n{text}\n" if title else f"{text}\n"
        (temp / f"{doc_id}.txt").write_text(body, encoding="utf-8")
    try:
        os.rename(temp, target)
    except OSError:  # another run materialised it first
        shutil.rmtree(temp, ignore_errors=True)
    return target
