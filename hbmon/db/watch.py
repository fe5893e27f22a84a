"""Wakes a database reader as soon as the database's files are written (Linux inotify on their
directory), instead of at its next poll; where inotify is unavailable it only waits.

SQLite offers no notification across processes. In WAL mode every commit appends to the `-wal`
file, so a write event on it (or on the database file, after a checkpoint) is the cue to look at
`PRAGMA data_version` again. Events on other files of the directory are read and ignored.
"""

from __future__ import annotations

import ctypes
import os
import select
import struct
import time
from pathlib import Path

_IN_MODIFY = 0x00000002
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, length of the name that follows
_READ_BYTES = 64 * 1024


class WriteWatch:
    """`wait(timeout)` returns early when the database or its WAL is written."""

    def __init__(self, db_path: Path) -> None:
        self._names = frozenset(os.fsencode(n) for n in (db_path.name, f"{db_path.name}-wal"))
        self._fd, self.problem = _watch(db_path.parent)

    @property
    def active(self) -> bool:
        return self._fd is not None

    @property
    def mode(self) -> str:
        """How the reader learns of writes, for its start-up log line."""
        return "inotify" if self._fd is not None else f"poll only: {self.problem}"

    def wait(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds; True as soon as one of the database's files was written,
        False at the timeout (or at once when inactive: the caller then waits itself)."""
        if self._fd is None:
            return False
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            if not select.select([self._fd], [], [], left)[0]:
                return False
            if self._written():
                return True
        return False

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _written(self) -> bool:
        """Read every queued event; whether one was about the database's files."""
        assert self._fd is not None
        try:
            data = os.read(self._fd, _READ_BYTES)
        except BlockingIOError:
            return False
        seen, at = False, 0
        while at + _EVENT.size <= len(data):
            length = _EVENT.unpack_from(data, at)[3]
            name = data[at + _EVENT.size : at + _EVENT.size + length].rstrip(b"\0")
            seen = seen or name in self._names
            at += _EVENT.size + length
        return seen


def _watch(directory: Path) -> tuple[int | None, str | None]:
    """An inotify descriptor watching `directory` for writes, or None and why not."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        init, add = libc.inotify_init1, libc.inotify_add_watch
    except (OSError, AttributeError):
        return None, "inotify is not available on this system"
    fd = int(init(os.O_NONBLOCK | os.O_CLOEXEC))
    if fd < 0:
        return None, f"inotify_init1: {os.strerror(ctypes.get_errno())}"
    if int(add(fd, os.fsencode(directory), _IN_MODIFY)) < 0:
        reason = f"inotify_add_watch {directory}: {os.strerror(ctypes.get_errno())}"
        os.close(fd)
        return None, reason
    return fd, None
