"""Fixtures for the deploy tests: paths into deploy/ and the real prometheus binary.

`promtool` comes from tests/conftest.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import require_tool

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


@pytest.fixture(scope="session")
def prometheus_binary() -> str:
    return require_tool("prometheus")
