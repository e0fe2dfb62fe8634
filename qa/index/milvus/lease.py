"""The Milvus store's writer lease: one citeqa process writes a store at a time, as the local backend's file lock
ensures for an index folder.

Milvus has no locks or transactions, so the lease is a row of the meta collection: who writes (host, process,
a token of its own) and until when. A writer takes it only when no live lease of another is there, reads it back
to see that it won, renews it while it works and removes it when done. A lease whose process has died (same host)
or whose time has run out (a writer killed on another machine) is taken over. Milvus Lite needs none of this (one
process at a time may open its file) but keeps the same rule; on a server the lease narrows the race of two
writers starting in the same instant to the time of one read-back, which is as much as Milvus allows."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from qa.errors import IndexBusyError

LEASE = "writer"
LEASE_SECONDS = 600  # longer than any one step of an update (the largest embedding batch, one flush)
RENEW_SECONDS = LEASE_SECONDS / 4


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def holder_is_live(lease: dict, now: float) -> bool:
    """Whether `lease` still keeps others out: unexpired, and on this host only while its process lives."""
    if lease.get("until", 0) < now:
        return False
    if lease.get("host") == socket.gethostname():
        return _alive(int(lease.get("pid", 0)))
    return True


class WriterLease:
    """Held for a whole update of one store (`with lease.held(): …`); `renew()` from long-running steps."""

    def __init__(self, collections) -> None:
        self.collections = collections
        self.token = uuid.uuid4().hex
        self.renewed = 0.0

    def _write(self, now: float) -> None:
        self.collections.set_meta(
            LEASE,
            {
                "token": self.token,
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "since": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "until": now + LEASE_SECONDS,
            },
        )
        self.renewed = now

    def _refuse_if_held(self, lease: dict | None, now: float) -> None:
        if lease and lease.get("token") != self.token and holder_is_live(lease, now):
            raise IndexBusyError(
                f"another citeqa process (pid {lease.get('pid')} on {lease.get('host')}, since {lease.get('since')}) "
                f"is writing the Milvus collections at {self.collections.uri}; try again when it has finished"
            )

    def renew(self) -> None:
        """Push the lease's end forward (at most every RENEW_SECONDS: a write per progress report would be waste)."""
        now = time.time()
        if now - self.renewed >= RENEW_SECONDS:
            self._write(now)

    @contextmanager
    def held(self) -> Iterator[None]:
        now = time.time()
        self._refuse_if_held(self.collections.meta(LEASE), now)
        self._write(now)
        self._refuse_if_held(self.collections.meta(LEASE), now)  # another took it in the same instant
        try:
            yield
        finally:
            lease = self.collections.meta(LEASE)
            if lease and lease.get("token") == self.token:
                self.collections.delete_meta(LEASE)
