"""The index folder's two locks: one builder at a time (filelock), and loads that a builder's clean-up waits for.

The readers' lock is flock(2) on `.readers`, shared by loads and taken exclusively by a builder before it deletes
superseded data folders. filelock's own ReadWriteLock (4.x) would not do: it keeps an SQLite database that it opens
read-write with mode 0600, so a load from a read-only folder, or by another user, fails with PermissionError, where
this lock lets it go ahead (nothing there can delete its files).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

LOCK_TIMEOUT = 600.0
"""Seconds a builder waits for another process's build of the same folder."""
CLEANUP_WAIT = 30.0
"""Seconds a builder waits for loads in progress before deleting old data folders (else the next build does)."""


def building(folder: Path):
    """Held while building: a second builder waits for the first (filelock.Timeout after LOCK_TIMEOUT)."""
    from filelock import FileLock

    return FileLock(str(folder / ".lock"), timeout=LOCK_TIMEOUT)


def reading(folder: Path):
    """Held while a manifest's data folder is checked and read: builders do not delete data folders meanwhile."""
    return readers(folder, exclusive=False)


@contextlib.contextmanager
def readers(folder: Path, *, exclusive: bool) -> Iterator[bool]:
    """flock on folder/.readers; yields whether it is held. Without the file (a read-only folder that never had a
    builder, or no folder at all) a reader goes ahead unlocked: nothing there can delete its files. Exclusive waits
    at most CLEANUP_WAIT seconds."""
    try:
        import fcntl
    except ImportError:  # Windows: no flock; the loader's fallback to the current manifest still applies
        yield True
        return
    path = folder / ".readers"
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        try:
            fd = os.open(path, os.O_RDONLY)  # a read-only folder: a shared lock still works
        except OSError:
            yield False
            return
    try:
        if not exclusive:
            fcntl.flock(fd, fcntl.LOCK_SH)
            yield True
            return
        deadline = time.monotonic() + CLEANUP_WAIT
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    yield False
                    return
                time.sleep(0.01)
        yield True
    finally:
        os.close(fd)
