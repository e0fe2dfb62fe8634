"""Generations of an index directory: the CURRENT pointer, the write lock, atomic publishing, checksums.

Layout of an index directory:

    .citeqa-index      written when citeqa creates the folder: only a folder that has it is written into
    CURRENT            name of the live generation (replaced atomically)
    .lock              held by the one process allowed to write
    gen-<time>/        one complete index: manifest.json and the data files it lists with their checksums
    tmp-<id>/          a generation being written; never read, removed when its write fails

A write stages a complete generation in a `tmp-…` folder, renames it into place, and only then points CURRENT
at it, so a write killed at any moment (or stopped by a full disk) leaves the previous generation answering.
A folder is only written into when it is new, empty, or marked as citeqa's, and clean-up only removes folders
named as this module names them, so an index pointed at a folder of the user's own is refused, never emptied.
This module knows nothing of what the files hold; `qa.index.local.store` does.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from qa.errors import (
    REBUILD_HINT,
    IndexBusyError,
    IndexFormatError,
    IndexUnusableError,
    UsageError,
    first_line,
)
from qa.ingest.corpus import shown_path

FORMAT_VERSION = 6  # 5: segments and a catalog; 6: sentences keep their terms and typed expressions
MANIFEST = "manifest.json"
CURRENT = "CURRENT"
MARKER = ".citeqa-index"
_OURS = re.compile(r"gen-\d+|tmp-[0-9a-f]{8}")  # the only folders clean-up may remove


class Generations:
    """The generations of one index directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def live(self) -> Path | None:
        """The folder CURRENT points at, or None before the first write."""
        try:
            name = (self.root / CURRENT).read_text().strip()
        except FileNotFoundError:
            return None
        return self.root / name

    @contextmanager
    def write_lock(self) -> Iterator[None]:
        """Held for a whole write; a second writer is refused at once rather than queued."""
        from filelock import FileLock, Timeout

        self.claim()
        lock = FileLock(str(self.root / ".lock"), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise IndexBusyError(
                f"another citeqa process is writing the index at {self.root}; try again when it has finished"
            ) from None
        try:
            self._remove_leftovers()  # under the lock, a tmp-… folder is a write that died
            yield
        finally:
            lock.release()

    def claim(self) -> None:
        """Make sure the folder is citeqa's before anything is written into it: new, empty, or marked (an index
        of an earlier citeqa, which has no mark, is recognised by its live generation and marked). A folder of
        the user's own, the file system's root and the home folder are refused with one line."""
        root = self.root
        if (root / MARKER).is_file():
            return
        shown = shown_path(root)
        resolved = root.resolve()
        if resolved == Path(resolved.anchor) or resolved == Path.home().resolve():
            raise UsageError(f"'{shown}' cannot hold an index (it is the root or the home folder); choose a new folder")
        if root.exists() and not root.is_dir():
            raise UsageError(f"'{shown}' is a file, not an index folder; choose a new or empty folder")
        live = self.live() if root.exists() else None
        earlier_index = live is not None and _OURS.fullmatch(live.name) and (live / MANIFEST).is_file()
        if root.exists() and any(root.iterdir()) and not earlier_index:
            raise UsageError(
                f"'{shown}' is not empty and is not a citeqa index: citeqa writes only into a new or empty folder "
                "or one it created"
            )
        root.mkdir(parents=True, exist_ok=True)
        _atomic_write(root / MARKER, "citeqa index folder: citeqa may replace what is in it\n")

    @contextmanager
    def staging(self) -> Iterator[Path]:
        """A fresh `tmp-…` folder to write a generation into; removed if the write fails for any reason."""
        temp = self.root / f"tmp-{uuid.uuid4().hex[:8]}"
        temp.mkdir()
        try:
            yield temp
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise

    def publish(self, temp: Path, manifest: dict) -> Path:
        """Record the staged files' checksums in its manifest, make it durable, and switch CURRENT to it."""
        linked = manifest.pop("linked", {})  # hard links to a previous generation's files: checksums known
        manifest = {"format": FORMAT_VERSION, **manifest, "files": file_digests(temp, linked)}
        (temp / MANIFEST).write_text(json.dumps(manifest, indent=2))
        _fsync_tree(temp)
        generation = self.root / f"gen-{time.time_ns()}"
        os.rename(temp, generation)
        try:
            _atomic_write(self.root / CURRENT, generation.name)
        except BaseException:
            shutil.rmtree(generation, ignore_errors=True)
            raise
        self._remove_leftovers(keep=generation.name)
        return generation

    def _remove_leftovers(self, keep: str | None = None) -> None:
        """Drop generations other than the live one and leftovers of interrupted writes; readers that opened
        them keep their open files (POSIX), and a reader that lost the race retries with the new CURRENT."""
        live = self.live()
        keep = keep or (live.name if live else None)
        for child in self.root.iterdir():
            if child.is_dir() and child.name != keep and _OURS.fullmatch(child.name):
                shutil.rmtree(child, ignore_errors=True)
        for stray in self.root.glob(f".{CURRENT}.*"):  # a CURRENT replacement that died before its rename
            stray.unlink(missing_ok=True)


def read_manifest(directory: Path) -> dict:
    """A generation's manifest, checked for the format version and the keys every reader relies on."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
        if manifest["format"] != FORMAT_VERSION:
            raise IndexFormatError(
                f"the index at {directory.parent} has format {manifest['format']}, this citeqa reads format "
                f"{FORMAT_VERSION}; {REBUILD_HINT}"
            )
        manifest["params"], manifest["model"], manifest["files"], manifest["corpus"]
    except FileNotFoundError:
        raise IndexUnusableError(f"index generation {directory} is missing; {REBUILD_HINT}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise IndexUnusableError(
            f"the manifest of the index at {directory.parent} is damaged ({first_line(exc)}); {REBUILD_HINT}"
        ) from exc
    return manifest


def file_digests(directory: Path, known: dict[str, dict] | None = None) -> dict[str, dict]:
    """Size and SHA-256 of every file below `directory`, keyed by relative path; those `known` (hard links to
    files already recorded) are not read again."""
    known = known or {}
    digests = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file() and path.name != MANIFEST:
            name = path.relative_to(directory).as_posix()
            digests[name] = known.get(name) or {"size": path.stat().st_size, "sha256": _sha256(path)}
    return digests


def verify_files(directory: Path, manifest: dict, hashed: tuple[str, ...] | None = None) -> None:
    """Every listed file exists with its recorded size; those whose path holds a string in `hashed` (all
    files when None) also match their SHA-256. Raises IndexUnusableError naming the first damaged file."""
    for name, facts in manifest["files"].items():
        path = directory / name
        try:
            damaged = path.stat().st_size != facts["size"]
            if not damaged and (hashed is None or any(part in name for part in hashed)):
                damaged = _sha256(path) != facts["sha256"]
        except OSError:  # missing, or removed by a writer while we read it (the caller retries then)
            damaged = True
        if damaged:
            raise IndexUnusableError(f"index file {path} is missing, truncated or damaged; {REBUILD_HINT}")


def link_or_copy(source: Path, target: Path) -> None:
    """A hard link to a file of a published generation (never written again), or a copy where the file
    system has no links."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _atomic_write(path: Path, text: str) -> None:
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    with open(temp, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)
    _fsync_dir(path.parent)


def _fsync_tree(directory: Path) -> None:
    for path in directory.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    _fsync_dir(directory)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
