"""The Assistant: the one object the CLI, the chat UI and eval call to index a corpus and answer questions."""

from __future__ import annotations

import errno
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from embeddings.base import DEFAULT_MODEL, model_id_for
from qa.answer.candidates import Candidate
from qa.answer.choose import Scored
from qa.answer.compose import answer_question, candidate_sentences, scored_sentences
from qa.answer.result import Answer, Citation
from qa.errors import CiteqaError, IndexBusyError, IndexUnusableError, StaleIndexWarning, UsageError
from qa.index import open_store
from qa.index.seam import (
    ArticleRow,
    IndexParams,
    IndexReader,
    IndexStore,
    Progress,
    Scope,
    UpdateReport,
    no_progress,
)
from qa.paths import bundled_seeds, cache_root, default_index_dir
from qa.retrieve.filters import Filter
from qa.retrieve.followup import Turn, mixed_vector, previous_turn, retrieval_terms, source_boost
from qa.retrieve.retriever import Mode, Passage, Query, Retrieval, Retriever
from qa.settings import DEFAULT_SETTINGS, Settings, validate_mode
from qa.text.questions import QuestionAnalysis, predicate_text, validate_question

# Question vectors an Assistant remembers, the least recently asked forgotten first: a server asked a million
# different questions keeps 1.5 KiB each of these only (about 6 MiB), not of all of them.
REMEMBERED_QUESTIONS = 4096
# Why an index may not be writable while it can still be read: answer from it rather than fail.
_UNWRITABLE = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES)
# The weights new indexes are built with (`--precision`); see docs/models.md, "Precision", for the measurement.
DEFAULT_PRECISION = "fp32"


@contextmanager
def model_errors() -> Iterator[None]:
    """The edge between the layers: the embeddings layer's errors become citeqa's one-line errors."""
    from embeddings.errors import EmbeddingError

    try:
        yield
    except EmbeddingError as exc:
        raise CiteqaError(str(exc)) from exc


class Assistant:
    """Question answering over one corpus and its index; the model loads only when a vector is needed."""

    def __init__(
        self,
        corpus: Path | None = None,
        index_dir: Path | str | None = None,
        model: str | None = None,
        settings: Settings = DEFAULT_SETTINGS,
        precision: str | None = None,
        store: IndexStore | None = None,
        follow_links: bool = False,
    ) -> None:
        """`store`, when given, is the index store to use instead of the one `index_dir` names; `follow_links`
        indexes what links in the corpus lead to outside it (they are skipped by default)."""
        self.corpus = Path(corpus) if corpus is not None else bundled_seeds()
        self.requested_model = model_id_for(model) if model else None
        self.requested_precision = precision
        self.store: IndexStore = store or open_store(
            index_dir
            or default_index_dir(self.corpus, self.requested_model or DEFAULT_MODEL, precision or DEFAULT_PRECISION),
            follow_links,
        )
        self.settings = settings
        self._index: IndexReader | None = None
        # the generation switched from, which the next one opened shares its segments with (switch_generation)
        self._outgoing: IndexReader | None = None
        self._embedder = None
        self._reader = None
        self._question_vectors: OrderedDict[str, np.ndarray] = OrderedDict()

    # -- indexing -------------------------------------------------------------------------------------
    @property
    def model_id(self) -> str:
        if self.requested_model:
            return self.requested_model
        if self._index is not None:
            return self._index.model_id
        return DEFAULT_MODEL

    @property
    def precision(self) -> str:
        """fp32 or int8 weights: the one asked for, else the open index's, else the default."""
        if self.requested_precision:
            return self.requested_precision
        if self._index is not None:
            return self._index.params.precision
        return DEFAULT_PRECISION

    @property
    def embedder(self):
        from embeddings import load_embedder

        wanted = (self.model_id, self.precision)
        if self._embedder is None or (self._embedder.model_id, self._embedder.precision) != wanted:
            with model_errors():
                self._embedder = load_embedder(self.model_id, cache_root() / "onnx", self.precision)
        return self._embedder

    @property
    def reader(self):
        """The trained reader (qa.reader), opened on first use; None when the settings turn it off."""
        if not self.settings.reader:
            return None
        if self._reader is None:
            from qa.reader.model import Reader

            self._reader = Reader(threads=self.settings.threads, loaded_tokenizer=self._loaded_encoder_tokenizer)
        return self._reader

    def _loaded_encoder_tokenizer(self):
        """The encoder's tokenizer if the encoder is open and has loaded one (the ONNX path), else None."""
        loaded = getattr(self._embedder, "loaded_tokenizer", None)
        return loaded() if loaded else None

    def load_model(self) -> None:
        """Load the models now (the chat does, so that its first question does not wait for them)."""
        with model_errors():
            self.embedder.encode(["warm-up"])
        if self.reader is not None:
            self.reader.load()

    def watch(
        self,
        on_change: Callable[[], None],
        stop: threading.Event | None = None,
        on_ready: Callable[[], None] = lambda: None,
        catch_up: bool = True,
    ) -> None:
        """Call `on_change` after every burst of changes to the corpus's articles until `stop` is set (see
        qa.ingest.watch.watch_corpus); the chat and the servers watch through here, not the ingest layer."""
        from qa.ingest.watch import watch_corpus

        watch_corpus(self.corpus, on_change, stop, on_ready, catch_up)

    def share_models(self, other: Assistant) -> None:
        """Answer with another Assistant's loaded encoder and reader, so that a process holding several (a server)
        holds each model once: their onnxruntime sessions and tokenizers are safe to run from several threads."""
        self._embedder, self._reader = other._embedder, other._reader

    def update_index(self, progress: Progress = no_progress, rebuild: bool = False) -> UpdateReport:
        """Index new and changed articles (all of them with `rebuild`) and reopen the index."""
        built = None if rebuild else self.store.built_with()
        if built is not None:  # keep an existing index on its model and precision unless others are asked for
            self.requested_model = self.requested_model or built.model_id
            self.requested_precision = self.requested_precision or built.precision
        self.close()
        params = IndexParams(self.model_id, self.precision)
        with model_errors():
            return self.store.update(self.corpus, params, self.embedder, progress, rebuild)

    def ensure_index(self, progress: Progress = no_progress) -> UpdateReport | None:
        """Build the index on first use, and bring it up to date when files changed (a stat-only check).
        When it exists but cannot be refreshed now (another process is writing it, it is read-only, or the disk
        is full), the questions are answered from it as it is, with a StaleIndexWarning."""
        if not self.store.exists():
            return self.update_index(progress)
        if not self.store.is_stale(self.corpus):
            return None
        try:
            return self.update_index(progress)
        except IndexBusyError:
            reason = "another citeqa process is refreshing it"
        except OSError as exc:
            if not isinstance(exc, PermissionError) and exc.errno not in _UNWRITABLE:
                raise
            reason = f"it cannot be written ({exc.strerror})"
        warnings.warn(
            f"the corpus changed but the index at {self.store.location} was not refreshed: {reason}; "
            "answering from the index as it is",
            StaleIndexWarning,
            stacklevel=2,
        )
        return None

    @property
    def index(self) -> IndexReader:
        if self._index is None:
            outgoing, self._outgoing = self._outgoing, None
            try:
                index = self.store.open(self.requested_model, previous=outgoing)
            finally:
                if outgoing is not None:
                    outgoing.close()
            try:
                index.require_corpus(self.corpus)
                if self.requested_precision and index.params.precision != self.requested_precision:
                    raise IndexUnusableError(
                        f"the index at {self.store.location} holds {index.params.precision} vectors, not "
                        f"{self.requested_precision}; rebuild it with `citeqa index --rebuild --precision "
                        f"{self.requested_precision}` or use another --index"
                    )
            except IndexUnusableError:
                index.close()
                raise
            self._index = index
        return self._index

    def switch_generation(self) -> None:
        """Let the next question open the live generation, sharing with it what it has in common with the open
        one (a server between two questions: after an update that added one segment, only that one is read)."""
        if self._index is not None:
            if self._outgoing is not None:
                self._outgoing.close()
            self._outgoing, self._index = self._index, None

    def close(self) -> None:
        for index in (self._index, self._outgoing):
            if index is not None:
                index.close()
        self._index = self._outgoing = None
        self.store.close()

    # -- answering ------------------------------------------------------------------------------------
    def ask(
        self,
        question: str,
        k: int | None = None,
        mode: Mode | None = None,
        history: tuple[Turn, ...] = (),
        only: Filter | None = None,
    ) -> Answer:
        """Answer `question` from the index; `history` makes follow-up questions use the conversation, `only`
        restricts it to the articles a filter allows. `k` and `mode` override the settings for this question."""
        return self.answer(self.search(question, k, mode, history, only))

    def search(
        self,
        question: str,
        k: int | None = None,
        mode: Mode | None = None,
        history: tuple[Turn, ...] = (),
        only: Filter | None = None,
    ) -> Retrieval:
        """The k best passages for `question` (retrieval only: no sentence is chosen)."""
        question = validate_question(question)
        mode = validate_mode(mode or self.settings.mode)
        k = self.settings.k if k is None else k
        if k < 1:
            raise UsageError("--k must be at least 1")
        retriever = Retriever(self.index, self.settings.fusion, self.settings.dense_weight)  # index before model
        timings: dict[str, float] = {}
        previous = previous_turn(question, history)
        started = time.perf_counter()
        question_vector = retrieval_vector = predicate_vector = None
        if mode != "bm25":
            texts = [question, predicate_text(question)] + ([previous.question] if previous else [])
            vectors = self._encode_questions(texts)
            question_vector, predicate_vector = vectors[0], vectors[1]
            retrieval_vector = mixed_vector(vectors[0], vectors[2]) if previous else vectors[0]
        timings["embed_ms"] = _ms_since(started)

        started = time.perf_counter()
        scope, notes = self._scope(only) if only is not None and only.active else (None, ())
        query = Query(question, retrieval_terms(question, previous), retrieval_vector, scope)
        passages = retriever.search(query, k=k, mode=mode, boost=source_boost(previous))
        timings["search_ms"] = _ms_since(started)
        return Retrieval(question, mode, passages, question_vector, predicate_vector, timings, notes)

    def _scope(self, only: Filter) -> tuple[Scope, tuple[str, ...]]:
        """The chunks and sentences of the articles a filter allows, and what it left out that a reader
        should know (articles without a date, when the filter is by date)."""
        articles = self.index.articles()
        allowed = [a.id for a in articles if only.allows(a)]
        chips = " ".join(only.chips())
        searched = f"searched {len(allowed)} of {len(articles)} articles ({chips})"
        notes = [searched if allowed else f"no articles match the filter ({chips})"]
        undated = sum(1 for a in articles if a.date is None)
        if only.dated and undated:
            notes.append(f"{undated} article(s) without a date were left out by the date filter")
        return self.index.scope(allowed), tuple(notes)

    def score(self, retrieval: Retrieval, passages: list[Passage] | None = None) -> list[Scored]:
        """Every sentence of the best passages (or of `passages`), most likely answer first."""
        return scored_sentences(self.index, retrieval, self.reader, self._passages(retrieval, passages))

    def candidates(
        self, question: QuestionAnalysis, retrieval: Retrieval, passages: list[Passage] | None = None
    ) -> tuple[list[Candidate], dict[str, float]]:
        """The sentences the answer step weighs, and the IDF of the question's words among sentences
        (bench/fit_answer.py keeps both to fit the answer model without retrieving again)."""
        return candidate_sentences(self.index, question, retrieval, self._passages(retrieval, passages))

    def _passages(self, retrieval: Retrieval, passages: list[Passage] | None) -> list[Passage]:
        return (retrieval.passages if passages is None else passages)[: self.settings.answer_passages]

    def answer(self, retrieval: Retrieval) -> Answer:
        """The answer to a retrieved question: cited sentences and the exact span, or "do not say"."""
        return answer_question(self.index, retrieval, self.reader, self._passages(retrieval, None))

    def forget_questions(self) -> None:
        """Drop remembered question vectors, so that the next asks pay (and time) their own embedding."""
        self._question_vectors.clear()

    def _encode_questions(self, texts: list[str]) -> np.ndarray:
        """Question vectors, remembered: eval asks each question once per mode, the chat repeats follow-ups."""
        remembered = self._question_vectors
        missing = list(dict.fromkeys(t for t in texts if t not in remembered))
        if missing:
            with model_errors():
                remembered.update(zip(missing, self.embedder.encode(missing), strict=True))
        for text in texts:  # most recently asked last
            remembered.move_to_end(text)
        vectors = np.stack([remembered[t] for t in texts])
        while len(remembered) > REMEMBERED_QUESTIONS:
            remembered.popitem(last=False)
        return vectors

    # -- inspection -----------------------------------------------------------------------------------
    def article(self, article_id: str) -> tuple[ArticleRow, str]:
        """An indexed article's metadata and full text, as it was when indexed."""
        return self.index.article(article_id), self.index.article_text(article_id)

    def passage_around(self, citation: Citation, sentences: int = 1) -> tuple[str, int, int]:
        """The cited sentence with `sentences` neighbours on each side, and where the citation sits in it."""
        text = self.index.article_text(citation.article_id)
        spans = [(s.start, s.end) for s in self.index.article_sentences(citation.article_id)]
        position = next((i for i, (start, _) in enumerate(spans) if start == citation.start), None)
        if position is None:
            return citation.sentence, 0, len(citation.sentence)
        first = spans[max(0, position - sentences)][0]
        last = spans[min(len(spans) - 1, position + sentences)][1]
        return text[first:last], citation.start - first, citation.end - first

    def info(self) -> dict:
        return {
            "corpus": str(self.corpus.resolve()),
            "index": self.store.location,
            **self.index.describe(),
            **self.index.counts,
        }


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
