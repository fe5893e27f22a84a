"""The shipped Alertmanager config: valid for amtool, routes by severity, inhibits per host."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.alertmanager import Alertmanager
from tests.conftest import require_tool
from tests.deploy.conftest import DEPLOY
from tests.support import wait_for

CONFIG = DEPLOY / "alertmanager" / "alertmanager.yml"


def _amtool(*args: str) -> str:
    done = subprocess.run(
        [require_tool("amtool"), *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_config_passes_amtool_check_config() -> None:
    assert "SUCCESS" in _amtool("check-config", str(CONFIG))


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (("severity=critical", "host=vps1"), "oncall"),
        (("severity=warning", "host=vps1"), "team-webhook"),
        (("severity=info", "host=vps1"), "team-webhook"),
        (("host=vps1",), "team-webhook"),
    ],
)
def test_alerts_route_by_severity(labels: tuple[str, ...], receiver: str) -> None:
    routed = _amtool("config", "routes", "test", f"--config.file={CONFIG}", *labels)
    assert routed.strip() == receiver


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[Alertmanager]:
    node = Alertmanager(require_tool("prometheus-alertmanager"), CONFIG, tmp_path / "am")
    yield node
    node.stop()


def _alert(alertname: str, host: str, **labels: str) -> dict[str, object]:
    return {"labels": {"alertname": alertname, "host": host, **labels}}


def _inhibited(node: Alertmanager) -> dict[tuple[str, str], bool]:
    return {
        (a["labels"]["alertname"], a["labels"]["host"]): bool(a["status"]["inhibitedBy"])
        for a in node.alerts()
    }


def test_internet_down_inhibits_service_alerts_of_the_same_host_only(
    alertmanager: Alertmanager,
) -> None:
    alertmanager.post_alerts(
        [
            _alert("HeartbeatInternetDown", "vps1", severity="warning"),
            _alert("HeartbeatServiceDown", "vps1", severity="critical", service="api"),
            _alert("HeartbeatServiceDown", "vps2", severity="critical", service="api"),
        ]
    )
    expected = {
        ("HeartbeatInternetDown", "vps1"): False,
        ("HeartbeatServiceDown", "vps1"): True,
        ("HeartbeatServiceDown", "vps2"): False,
    }
    wait_for(lambda: _inhibited(alertmanager) == expected, timeout=10)
