"""How the reader sees a question and a candidate: one token sequence, the same in training and at question time.

    [CLS] question [SEP] sentence [SEP] context [SEP]

The sentence comes before its context so that truncation only ever shortens the context (the headline and the
sentence before it, which resolve "he" and "the group"); a candidate without context ends at its first [SEP].
Token types are 0 for the question and 1 for the rest, as BERT was pre-trained on pairs. The sentence's tokens
keep their character offsets, so a predicted answer span maps back into the article.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAX_QUESTION_TOKENS = 32
MAX_SENTENCE_TOKENS = 80
MAX_CONTEXT_TOKENS = 40
# The longest answer span the reader proposes, in tokens ("the UK-Dutch group Royal Dutch Shell" is 9).
MAX_SPAN_TOKENS = 16
CONTEXT_SEPARATOR = " | "


@dataclass(frozen=True)
class Encoded:
    """A batch of sequences padded to one length, with where each row's sentence tokens are and their offsets."""

    input_ids: np.ndarray  # (rows, length) int64
    attention_mask: np.ndarray
    token_type_ids: np.ndarray
    sentence_first: np.ndarray  # (rows,) index of each row's first sentence token
    offsets: list[list[tuple[int, int]]]  # per row: each sentence token's (start, end) in the sentence

    def feeds(self) -> dict[str, np.ndarray]:
        return {
            "input_ids": self.input_ids,
            "attention_mask": self.attention_mask,
            "token_type_ids": self.token_type_ids,
        }


def join_context(headline: str, previous: str) -> str:
    """A candidate's context as the reader reads it: its article's headline and the sentence before it."""
    return CONTEXT_SEPARATOR.join(part for part in (headline.strip(), previous.strip()) if part)


def load_tokenizer(path: Path):
    """The fast tokenizer from its tokenizer.json, with its own truncation and padding off (we lay out rows)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def tokenizer_digest(tokenizer) -> str:
    """What the tokenizer does to text, as a SHA-256: its serialization without the truncation and padding
    settings (which lead it), so that two files of one tokenizer written by different tools compare equal."""
    serialized = tokenizer.to_str()
    start = max(serialized.find(',"added_tokens":'), 0)  # not found: the whole of it
    return hashlib.sha256(serialized[start:].encode("utf-8")).hexdigest()


def can_read_with(tokenizer) -> bool:
    """Whether a tokenizer set up for another use (the encoder's) encodes the reader's rows as its own does: no
    padding, and no truncation shorter than the longest part the reader keeps (it takes each part's first
    tokens itself, without special tokens)."""
    truncation = tokenizer.truncation
    longest = max(MAX_QUESTION_TOKENS, MAX_SENTENCE_TOKENS, MAX_CONTEXT_TOKENS)
    return tokenizer.padding is None and (truncation is None or truncation["max_length"] >= longest)


def encode(tokenizer, questions: list[str], sentences: list[str], contexts: list[str]) -> Encoded:
    """Rows for parallel lists of questions, candidate sentences and their contexts ("" for none)."""
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    unique_questions = list(dict.fromkeys(questions))
    question_ids = dict(
        zip(
            unique_questions,
            (e.ids for e in tokenizer.encode_batch(unique_questions, add_special_tokens=False)),
            strict=True,
        )
    )
    sentence_encodings = tokenizer.encode_batch(sentences, add_special_tokens=False)
    context_encodings = tokenizer.encode_batch([c or "" for c in contexts], add_special_tokens=False)
    rows, types, firsts, offsets = [], [], [], []
    for question, sentence, context in zip(questions, sentence_encodings, context_encodings, strict=True):
        head = [cls, *question_ids[question][:MAX_QUESTION_TOKENS], sep]
        body = sentence.ids[:MAX_SENTENCE_TOKENS]
        tail = [*context.ids[:MAX_CONTEXT_TOKENS], sep] if context.ids else []
        ids = [*head, *body, sep, *tail]
        rows.append(ids)
        types.append([0] * len(head) + [1] * (len(ids) - len(head)))
        firsts.append(len(head))
        offsets.append(list(sentence.offsets[: len(body)]))
    length = max(len(r) for r in rows)
    input_ids = np.zeros((len(rows), length), dtype=np.int64)
    token_type_ids = np.zeros_like(input_ids)
    attention_mask = np.zeros_like(input_ids)
    for i, (ids, kinds) in enumerate(zip(rows, types, strict=True)):
        input_ids[i, : len(ids)] = ids
        token_type_ids[i, : len(ids)] = kinds
        attention_mask[i, : len(ids)] = 1
    return Encoded(input_ids, attention_mask, token_type_ids, np.array(firsts, dtype=np.int64), offsets)


def span_tokens(offsets: list[tuple[int, int]], start: int, end: int) -> tuple[int, int] | None:
    """The first and last sentence token covering characters [start, end), or None if none does."""
    covering = [i for i, (s, e) in enumerate(offsets) if e > start and s < end]
    return (covering[0], covering[-1]) if covering else None


def best_span(start_logits: np.ndarray, end_logits: np.ndarray) -> tuple[int, int, float]:
    """The (first, last) token pair with the highest start + end score, last >= first, at most MAX_SPAN_TOKENS."""
    n = len(start_logits)
    scores = start_logits[:, None] + end_logits[None, :]
    first, last = np.indices((n, n))
    scores = np.where((last >= first) & (last - first < MAX_SPAN_TOKENS), scores, -np.inf)
    i, j = np.unravel_index(int(np.argmax(scores)), scores.shape)
    return int(i), int(j), float(scores[i, j])
