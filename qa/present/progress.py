"""Progress bars on stderr for long work (indexing, evaluation), so stdout stays clean for answers and JSON."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from qa.index.seam import Progress

STAGE_LABELS = {
    "reading": "Reading articles",
    "embedding": "Embedding",
    "preparing": "Chunking and fingerprinting",
    "writing": "Writing index",
}


@contextmanager
def progress_bars(enabled: bool = True) -> Iterator[Progress]:
    """A `Progress` callback drawing one rich bar per stage; a no-op when disabled or not on a terminal. rich is
    loaded at the first report, so work that reports nothing (an index already up to date) does not pay for it."""
    bars = None
    tasks: dict[str, int] = {}

    def report(stage: str, done: int, total: int) -> None:
        nonlocal bars, enabled
        if not enabled:
            return
        if bars is None:
            bars = _terminal_bars()
            if bars is None:
                enabled = False
                return
            bars.start()
        if stage not in tasks:
            tasks[stage] = bars.add_task(STAGE_LABELS.get(stage, stage.capitalize()), total=total)
        bars.update(tasks[stage], completed=done, total=total)

    try:
        yield report
    finally:
        if bars is not None:
            bars.stop()


def _terminal_bars():
    """A transient rich Progress on stderr, or None when stderr is not a terminal."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as RichProgress

    console = Console(stderr=True)
    if not console.is_terminal:
        return None
    return RichProgress(
        TextColumn("{task.description:<18}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
