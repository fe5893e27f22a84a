"""The shipped Prometheus scrape config and alert rules pass the real promtool and its tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.deploy.conftest import DEPLOY

PROMETHEUS = DEPLOY / "prometheus"


def _promtool(promtool: str, *args: str, cwd: Path = PROMETHEUS) -> str:
    done = subprocess.run(
        [promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return output


def test_scrape_config_is_valid(promtool: str) -> None:
    output = _promtool(promtool, "check", "config", "prometheus.yml")
    assert "SUCCESS: prometheus.yml is valid" in output


def test_alert_rules_are_valid(promtool: str) -> None:
    output = _promtool(promtool, "check", "rules", "rules.yml")
    assert "SUCCESS" in output


def test_alert_rules_unit_tests_pass(promtool: str) -> None:
    output = _promtool(promtool, "test", "rules", "tests/rules_test.yml")
    assert "SUCCESS" in output


def test_every_alert_has_a_unit_test_that_fires_it() -> None:
    rules = (PROMETHEUS / "rules.yml").read_text()
    tests = (PROMETHEUS / "tests" / "rules_test.yml").read_text()
    alerts = [line.split(":", 1)[1].strip() for line in rules.splitlines() if "- alert:" in line]
    assert alerts
    for alert in alerts:
        assert f"alertname: {alert}\n" in tests, f"no promtool test for {alert}"


def test_file_sd_examples_are_valid_target_files(promtool: str, tmp_path: Path) -> None:
    """promtool validates file_sd files it can find: point a config at the shipped examples."""
    for example in ("exporters", "alerters"):
        target = tmp_path / f"{example}.yml"
        target.write_text((PROMETHEUS / "file_sd" / f"{example}.yml.example").read_text())
    config = tmp_path / "prometheus.yml"
    config.write_text(
        (PROMETHEUS / "prometheus.yml")
        .read_text()
        .replace("file_sd/", f"{tmp_path}/")
        .replace("  - rules.yml", f"  - {PROMETHEUS / 'rules.yml'}")
    )
    output = _promtool(promtool, "check", "config", str(config), cwd=tmp_path)
    assert "does not exist" not in output
    assert "is valid prometheus config file syntax" in output
