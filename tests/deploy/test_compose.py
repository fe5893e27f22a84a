"""The compose files resolve: the default stack, the observability profile, the test override."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import docker_required
from tests.deploy.conftest import DEPLOY


def _compose() -> list[str]:
    if (
        shutil.which("docker")
        and subprocess.run(
            ["docker", "compose", "version"], capture_output=True, check=False
        ).returncode
        == 0
    ):
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    message = "no docker compose (apt-get install docker-compose)"
    if docker_required():
        pytest.fail(message + " and HBMON_REQUIRE_DOCKER=1")
    pytest.skip(message)


def _config(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_compose(), "--project-directory", str(project), *args, "config"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / ".env").write_text("DOCKER_GID=998\nSERVICE_URL_web=http://127.0.0.1:1/\n")
    return tmp_path


def _files(*names: str) -> list[str]:
    return [arg for name in names for arg in ("-f", str(DEPLOY / name))]


def test_default_stack_publishes_ports_and_shares_the_database_volume(project: Path) -> None:
    done = _config(project, *_files("docker-compose.yml", "docker-compose.override.yml"))
    assert done.returncode == 0, done.stderr
    # Substrings that both compose v1 and v2 print (their `config` layouts differ).
    for expected in ("9877", "9878", "heartbeat-data", "/data", "/var/run/docker.sock", "998"):
        assert expected in done.stdout
    assert "condition: service_healthy" in done.stdout


def test_missing_docker_gid_is_a_clear_error(project: Path) -> None:
    (project / ".env").write_text("")
    done = _config(project, *_files("docker-compose.yml"))
    assert done.returncode != 0
    assert "stat -c %g /var/run/docker.sock" in done.stdout + done.stderr


def test_test_override_uses_host_networking_without_published_ports(project: Path) -> None:
    with (project / ".env").open("a") as env:
        env.write("HB_TEST_EXPORTER_PORT=40001\nHB_TEST_ALERTER_PORT=40002\n")
    done = _config(project, *_files("docker-compose.yml", "docker-compose.test.yml"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("network_mode: host") == 2
    assert "published" not in done.stdout
    assert "127.0.0.1:40001" in done.stdout


def test_observability_profile_adds_prometheus_grafana_and_alertmanager(project: Path) -> None:
    files = _files("docker-compose.yml", "docker-compose.override.yml")
    done = _config(project, *files, "--profile", "observability")
    assert done.returncode == 0, done.stderr
    for expected in ("prom/prometheus", "grafana/grafana-oss", "prom/alertmanager", "9093"):
        assert expected in done.stdout
    # compose v1 prints every service whatever the profile: the profile itself is what we check.
    assert done.stdout.count("- observability") == 3
