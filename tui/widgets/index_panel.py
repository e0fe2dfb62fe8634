"""The index panel: it checks, builds or refreshes the index and loads the model in a thread, shows the progress
itself, and reports the outcome with messages (elia's idiom: the widget that starts the work owns the worker)."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Label, ProgressBar
from textual.worker import get_current_worker

from qa.errors import CiteqaError, first_line
from qa.pipeline import Assistant
from qa.present.progress import STAGE_LABELS


class IndexingCancelled(Exception):
    """Raised from the progress callback when the app is quitting mid-index."""


class IndexPanel(Horizontal):
    """Hidden but while it works; `indexing` says whether it does."""

    @dataclass
    class Progress(Message):
        stage: str
        done: int
        total: int

        @property
        def label(self) -> str:
            return STAGE_LABELS.get(self.stage, self.stage.capitalize())

    @dataclass
    class Ready(Message):
        info: dict  # Assistant.info()

    @dataclass
    class Failed(Message):
        reason: str

    def compose(self) -> ComposeResult:
        yield Label("Starting…", id="loading-label")
        yield ProgressBar(id="progress", show_eta=False)

    @property
    def indexing(self) -> bool:
        return any(w.group == "prepare" and w.is_running for w in self.workers)

    def cancel(self) -> None:
        """Stop a run between two batches (the app is quitting; the index write is atomic)."""
        self.workers.cancel_group(self, "prepare")

    @work(thread=True, exclusive=True, group="prepare")
    def prepare(self, assistant: Assistant, refresh: bool = False) -> None:
        """Check (or with `refresh`, re-read and hash) the corpus, index what changed, load the model."""
        worker = get_current_worker()

        def progress(stage: str, done: int, total: int) -> None:
            if worker.is_cancelled:
                raise IndexingCancelled
            self.post_message(self.Progress(stage, done, total))

        try:
            if refresh:
                assistant.update_index(progress)
            else:
                assistant.ensure_index(progress)
            self.post_message(self.Progress("loading model", 0, 0))
            assistant.load_model()  # now, not on the first question
            info = assistant.info()
        except IndexingCancelled:
            return
        except CiteqaError as exc:
            self.post_message(self.Failed(str(exc)))
            return
        except Exception as exc:  # shown in the UI, never as a traceback
            self.post_message(self.Failed(f"{type(exc).__name__}: {first_line(exc)}"))
            return
        self.post_message(self.Ready(info))

    @on(Progress)
    def _show(self, message: Progress) -> None:
        self.remove_class("-hidden")
        total = message.total
        self.query_one("#loading-label", Label).update(
            f"{message.label} {message.done}/{total}" if total else f"{message.label}…"
        )
        self.query_one(ProgressBar).update(total=total or None, progress=message.done)

    @on(Ready)
    @on(Failed)
    def _done(self) -> None:
        self.add_class("-hidden")
