"""What went wrong with the database, named from SQLite's own error code, and logged once."""

from __future__ import annotations

import errno
import sqlite3
import threading
from enum import StrEnum

# SQLite primary result codes (https://sqlite.org/rescode.html); extended codes keep them in
# their low byte.
_PERM, _BUSY, _LOCKED, _READONLY, _IOERR, _CORRUPT, _FULL, _CANTOPEN, _NOTADB = (
    3, 5, 6, 8, 10, 11, 13, 14, 26,
)  # fmt: skip


class Trouble(StrEnum):
    """Why the database refused; `/healthz` and `heartbeat_store_errors_total` use these."""

    DISK_FULL = "disk_full"
    READ_ONLY = "read_only"
    LOCKED = "locked"
    CORRUPT = "corrupt"
    IO_ERROR = "io_error"
    CANNOT_OPEN = "cannot_open"
    OTHER = "other"


_BY_CODE = {
    _FULL: Trouble.DISK_FULL,
    _READONLY: Trouble.READ_ONLY,
    _PERM: Trouble.READ_ONLY,
    _BUSY: Trouble.LOCKED,
    _LOCKED: Trouble.LOCKED,
    _CORRUPT: Trouble.CORRUPT,
    _NOTADB: Trouble.CORRUPT,
    _IOERR: Trouble.IO_ERROR,
    _CANTOPEN: Trouble.CANNOT_OPEN,
}


def _chain(exc: BaseException) -> list[BaseException]:
    """`exc` and every exception behind it: peewee keeps the original in args, and chains."""
    found: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop(0)
        if current is None or any(current is seen for seen in found):
            continue
        found.append(current)
        todo += [a for a in current.args if isinstance(a, BaseException)]
        todo += [current.__cause__, current.__context__]
    return found


def sqlite_cause(exc: BaseException) -> sqlite3.Error | None:
    """The sqlite3 error behind `exc`; a named condition (full, read-only, ...) wins over a
    generic SQLITE_ERROR such as "cannot rollback - no transaction is active" raised while
    handling it."""
    found = [
        e
        for e in _chain(exc)
        if isinstance(e, sqlite3.Error) and getattr(e, "sqlite_errorcode", None)
    ]
    named = [e for e in found if e.sqlite_errorcode & 0xFF in _BY_CODE]
    candidates = named or found
    return candidates[0] if candidates else None


def os_cause(exc: BaseException) -> OSError | None:
    """The first OSError with an errno behind `exc` (a file SQLite was not even asked about)."""
    return next((e for e in _chain(exc) if isinstance(e, OSError) and e.errno), None)


# Before SQLite runs at all, creating the database's folder, or writing its -wal or -shm file,
# can fail.
_BY_ERRNO = {
    errno.ENOSPC: Trouble.DISK_FULL,
    errno.EDQUOT: Trouble.DISK_FULL,
    errno.EROFS: Trouble.READ_ONLY,
    errno.EACCES: Trouble.READ_ONLY,
    errno.EPERM: Trouble.READ_ONLY,
    errno.EIO: Trouble.IO_ERROR,
}


def classify(exc: BaseException) -> Trouble:
    cause = sqlite_cause(exc)
    if cause is not None:
        return _BY_CODE.get(cause.sqlite_errorcode & 0xFF, Trouble.OTHER)
    refused = os_cause(exc)
    if refused is not None:
        return _BY_ERRNO.get(refused.errno or 0, Trouble.CANNOT_OPEN)
    return Trouble.OTHER


def describe(exc: BaseException) -> str:
    """`SQLITE_FULL: database or disk is full`: the code's name and SQLite's own words."""
    cause = sqlite_cause(exc)
    if cause is not None:
        return f"{cause.sqlite_errorname}: {cause}"
    refused = os_cause(exc)
    if refused is not None and refused.errno is not None:
        where = f" ({refused.filename})" if refused.filename else ""
        return f"{errno.errorcode.get(refused.errno, refused.errno)}: {refused.strerror}{where}"
    return f"{type(exc).__name__}: {exc}"


class TroubleLog:
    """Remembers the current condition so that a log line is written once per change of it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.current: Trouble | None = None

    def observe(self, trouble: Trouble | None) -> bool:
        """Record the condition (None: healthy again); True when it differs from the last."""
        with self._lock:
            changed = trouble != self.current
            self.current = trouble
            return changed
