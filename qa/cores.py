"""The cores this process may run on, which decide how many questions a server answers at once and how many
candidates a reading reads at once, and how a background thread gives way to the ones answering."""

from __future__ import annotations

import os
import sys
import threading
from contextlib import suppress

# The niceness of a thread that works in the background (a server's index writer): the scheduler gives a nice-0
# thread about 70 times its share of a busy core (weights 1024 and 15), and it all of an idle one.
BACKGROUND_NICENESS = 19


def usable_cores() -> int:
    """The cores this process may run on (its affinity where the platform has one, as on Linux)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def run_in_background() -> bool:
    """Lower the calling thread's scheduling priority to BACKGROUND_NICENESS, and the threads it starts later
    (an onnxruntime session's pool inherits it), so that questions come first when the cores are busy; True when
    it did. Linux only: there a thread's niceness is its own, elsewhere setpriority would renice the process."""
    if sys.platform != "linux":
        return False
    with suppress(OSError):
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, max(os.getpriority(os.PRIO_PROCESS, tid), BACKGROUND_NICENESS))
        return True
    return False
