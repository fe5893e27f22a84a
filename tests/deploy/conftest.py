"""Fixtures for the deploy tests: paths into deploy/ and the real promtool/prometheus binaries."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import docker_required

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _binary(name: str) -> str:
    """The path of a Prometheus binary; skip without it, fail when CI requires the real tools."""
    path = shutil.which(name)
    if path is not None:
        return path
    message = f"{name} is not installed (apt-get install prometheus)"
    if docker_required():
        pytest.fail(message + " and HBMON_REQUIRE_DOCKER=1 (CI installs it)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def promtool() -> str:
    return _binary("promtool")


@pytest.fixture(scope="session")
def prometheus_binary() -> str:
    return _binary("prometheus")
