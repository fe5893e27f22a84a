"""Real database trouble for tests: a small tmpfs that fills up, a read-only bind mount, chattr."""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import docker_required


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)


def unsupported(reason: str) -> None:
    """Skip where the machine cannot do it; fail where CI (HBMON_REQUIRE_DOCKER=1) runs."""
    if docker_required():
        pytest.fail(reason + " and HBMON_REQUIRE_DOCKER=1 makes it mandatory")
    pytest.skip(reason)


@contextmanager
def tmpfs(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` mounted on `where` (skip where mounting is not permitted)."""
    where.mkdir(parents=True, exist_ok=True)
    done = _run("mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where))
    if done.returncode != 0:
        unsupported(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield where
    finally:
        _run("umount", "-l", str(where))


def fill(folder: Path) -> Path:
    """Fill the file system holding `folder` to the last byte; returns the filler to delete."""
    filler = folder / "filler"
    _run("dd", "if=/dev/zero", f"of={filler}", "bs=64k")
    return filler


@contextmanager
def read_only(folder: Path) -> Iterator[Path]:
    """`folder` bind-mounted onto itself read-only for the duration."""
    done = _run("mount", "--bind", str(folder), str(folder))
    if done.returncode != 0:
        unsupported(f"cannot bind-mount here: {done.stderr.strip()}")
    try:
        remount = _run("mount", "-o", "remount,bind,ro", str(folder))
        if remount.returncode != 0:
            unsupported(f"cannot remount read-only: {remount.stderr.strip()}")
        yield folder
    finally:
        _run("umount", "-l", str(folder))


@contextmanager
def immutable(*paths: Path) -> Iterator[None]:
    """`chattr +i` on each path for the duration (skip where the file system refuses)."""
    done = _run("chattr", "+i", *map(str, paths))
    try:
        if done.returncode != 0:
            unsupported(f"chattr +i is not supported here: {done.stderr.strip()}")
        yield
    finally:
        _run("chattr", "-i", *map(str, paths))


@contextmanager
def disk_full(folder: Path) -> Iterator[None]:
    """The filesystem of `folder` (a small tmpfs) filled up until the block ends."""
    filler = fill(folder)
    try:
        yield
    finally:
        filler.unlink()


@contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Another connection holds the write lock of `folder`/metrics.db until the block ends."""
    holder = sqlite3.connect(folder / "metrics.db", isolation_level=None, timeout=10)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()
