"""Keeping an index in step with its folder: file events are debounced into one update at a time.

Each update is the ordinary one (`Assistant.update_index`): it re-reads what changed, embeds only new or
changed articles and publishes a new generation atomically, so readers never see a half-applied change.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from qa.ingest.corpus import ARTICLE_SUFFIXES

# Saving a file is often several events (write, rename, touch): wait this long for quiet before updating.
DEBOUNCE_MS = 300
# The watcher wakes this often without events; its first wake-up is when it is surely listening.
WAKE_MS = 200


def _relevant(change, path: str) -> bool:
    """Article files, and paths without a suffix (a folder moved in or out); hidden paths never."""
    name = Path(path).name
    suffix = Path(path).suffix.lower()
    return not name.startswith(".") and (suffix in ARTICLE_SUFFIXES or not suffix)


def watch_corpus(
    corpus: Path,
    on_change: Callable[[], None],
    stop: threading.Event | None = None,
    on_ready: Callable[[], None] = lambda: None,
    catch_up: bool = True,
) -> None:
    """Call `on_ready` once the watcher is listening, then `on_change` once with `catch_up` (for anything that
    changed before it was) and after every burst of changes to articles under `corpus`, until `stop` is set (or
    Ctrl+C, which returns normally)."""
    from watchfiles import watch

    listening = False
    events = watch(
        corpus,
        watch_filter=_relevant,
        debounce=DEBOUNCE_MS,
        step=50,
        stop_event=stop,
        raise_interrupt=False,
        rust_timeout=WAKE_MS,
        yield_on_timeout=True,  # the first (empty) yield says the watcher is listening
    )
    for changes in events:
        if not listening:
            listening = True
            on_ready()
            if catch_up:
                on_change()
        elif changes:
            on_change()
