"""Fixtures shared by every test package: the Docker engine, a local image, free ports."""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

BUSYBOX_IMAGE = "hbtest/busybox:latest"
BUSYBOX_APPLETS = ("sh", "sleep", "true", "false", "cat", "echo", "kill", "httpd", "wget", "test")


def docker_required() -> bool:
    """`.ci/run` sets HBMON_REQUIRE_DOCKER=1 so that a missing engine fails instead of skipping."""
    return os.environ.get("HBMON_REQUIRE_DOCKER") == "1"


def _engine_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        done = subprocess.run(
            ["docker", "version", "--format", "{{.Server.Version}}"],
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """Skip (or fail, under HBMON_REQUIRE_DOCKER=1) when no Docker engine answers."""
    if _engine_answers():
        return
    message = "no Docker engine answers `docker version` (start dockerd, see .ci/run)"
    if docker_required():
        pytest.fail(message + " and HBMON_REQUIRE_DOCKER=1")
    pytest.skip(message)


@pytest.fixture(scope="session")
def busybox_image(docker_engine: None, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A tiny local image imported from Debian's busybox-static (no registry pull needed)."""
    present = subprocess.run(
        ["docker", "image", "inspect", BUSYBOX_IMAGE], capture_output=True, check=False
    )
    if present.returncode == 0:
        return BUSYBOX_IMAGE
    busybox = shutil.which("busybox") or "/bin/busybox"
    if not Path(busybox).exists():
        pytest.fail("busybox-static is not installed (apt-get install busybox-static)")
    archive = tmp_path_factory.mktemp("busybox") / "rootfs.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(busybox, arcname="bin/busybox")
        for applet in BUSYBOX_APPLETS:
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type = tarfile.SYMTYPE
            info.linkname = "busybox"
            tar.addfile(info)
    subprocess.run(
        ["docker", "import", str(archive), BUSYBOX_IMAGE], check=True, capture_output=True
    )
    return BUSYBOX_IMAGE


@pytest.fixture
def container_name() -> Iterator[str]:
    """A unique container name, force-removed after the test."""
    name = f"hbtest-{uuid.uuid4().hex[:10]}"
    yield name
    subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)


def require_tool(name: str) -> str:
    """Path of an external tool (promtool, prometheus, nginx); skip or, in CI, fail without it."""
    path = shutil.which(name)
    if path is not None:
        return path
    message = f"{name} is not installed (see .ci/run for the Debian package)"
    if docker_required():
        pytest.fail(message + " and HBMON_REQUIRE_DOCKER=1 makes external tools mandatory")
    pytest.skip(message)


@pytest.fixture(scope="session")
def promtool() -> str:
    return require_tool("promtool")
