"""Checks of configured paths and files that answer with a problem instead of raising."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from typing import BinaryIO

# Linux limits: a longer name fails with ENAMETOOLONG wherever it is used.
NAME_MAX = 255
PATH_MAX = 4095
MAX_FILE_BYTES = 65536  # a secret or a URL, never a real document
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def control_problem(value: str) -> str | None:
    """Why `value` cannot be used as a name or path: it holds a control character."""
    return "contains a control character" if _CONTROL.search(value) else None


def path_problem(value: str) -> str | None:
    """Why `value` can never name a file on Linux, or None when its shape is fine."""
    encoded = os.fsencode(value)
    if b"\0" in encoded or control_problem(value):
        return "contains a control character"
    if len(encoded) > PATH_MAX:
        return f"is longer than {PATH_MAX} bytes"
    if any(len(part) > NAME_MAX for part in encoded.split(b"/")):
        return f"has a file or directory name longer than {NAME_MAX} bytes"
    return None


def existing_problem(value: str) -> str | None:
    """Why `value` is not an existing path, or None when it exists."""
    problem = path_problem(value)
    if problem is not None:
        return problem
    try:
        os.stat(value)
    except FileNotFoundError:
        return "does not exist"
    except OSError as error:
        return f"cannot be used ({error.strerror})"
    return None


def creatable_problem(value: str) -> str | None:
    """Why a file could never be created at `value`: a bad name, or a directory is there."""
    problem = path_problem(value)
    if problem is not None:
        return problem
    try:
        is_dir = stat.S_ISDIR(os.stat(value).st_mode)
    except OSError:
        return None  # missing, or hidden behind a directory: opening it will tell why
    return "is a directory" if is_dir else None


def read_small_file(value: str, limit: int = MAX_FILE_BYTES) -> tuple[bytes, str | None]:
    """Up to `limit` bytes of a readable regular file, or why it is not one."""
    content = b""

    def read(file: BinaryIO) -> None:
        nonlocal content
        content = file.read(limit + 1)

    problem = _with_regular_file(value, read)
    if problem is None and len(content) > limit:
        problem = f"names a file larger than {limit} bytes"
    return (b"", problem) if problem else (content, None)


def readable_problem(value: str) -> str | None:
    """Why `value` is not a readable regular file (of any size), or None when it is."""
    return _with_regular_file(value, lambda _: None)


def _with_regular_file(value: str, use: Callable[[BinaryIO], None]) -> str | None:
    """Open `value` and hand it to `use`, unless it is not a readable regular file.

    FIFOs and devices are refused before opening: `/dev/zero` never ends, a FIFO blocks.
    """
    problem = path_problem(value)
    if problem is not None:
        return problem
    try:
        if not stat.S_ISREG(os.stat(value).st_mode):
            return "is not a regular file"
        with open(value, "rb") as file:
            use(file)
    except OSError as error:
        return f"cannot be read ({error.strerror})"
    return None
