"""The docker probe against the real engine: one container per state the engine can produce."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator

import pytest

from exporter.config import ServiceSpec
from exporter.dockerengine import DockerEngine, DockerView
from exporter.probes.base import Fact, ProbeDeps, ProbeResult
from exporter.probes.docker import NOT_FOUND, probe
from hbmon.status import Status
from tests.support import wait_for

pytestmark = pytest.mark.docker


def docker(*args: str) -> str:
    """Run the docker CLI against the same engine and return its output."""
    done = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, f"docker {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


def run(name: str, image: str, *options: str, command: tuple[str, ...] = ("sleep", "300")) -> str:
    """Start a detached container without networking; returns its full ID."""
    return docker("run", "-d", "--network", "none", "--name", name, *options, image, *command)


def probe_in(view: DockerView | None, target: str) -> ProbeResult:
    spec = ServiceSpec(name="svc", kind="docker", target=target)
    return probe(spec, timeout=10.0, deps=ProbeDeps(http=None, docker=view))  # type: ignore[arg-type]


@pytest.fixture
def engine(docker_engine: None) -> Iterator[DockerEngine]:
    engine = DockerEngine(os.environ.get("DOCKER_HOST"), timeout=10.0)
    yield engine
    engine.close()


def probe_fresh(engine: DockerEngine, target: str) -> ProbeResult:
    """One probe in a new view, as in a new cycle."""
    return probe_in(engine.view(), target)


def test_running_container_without_healthcheck_is_healthy(
    engine: DockerEngine, busybox_image: str, container_name: str
) -> None:
    run(container_name, busybox_image)

    result = probe_fresh(engine, container_name)

    assert result.status is Status.HEALTHY
    assert result.reason is None
    assert result.facts[Fact.CONTAINER_STATE] == "running"
    assert result.facts[Fact.RESTART_COUNT] == 0
    assert result.facts["health"] is None
    assert result.latency_s is not None
    assert 0 < result.latency_s < 10


def test_container_is_found_by_full_and_short_id(
    engine: DockerEngine, busybox_image: str, container_name: str
) -> None:
    container_id = run(container_name, busybox_image)

    assert probe_fresh(engine, container_id).status is Status.HEALTHY
    assert probe_fresh(engine, container_id[:12]).status is Status.HEALTHY


def test_exited_container_is_down_with_its_exit_code(
    engine: DockerEngine, busybox_image: str, container_name: str
) -> None:
    run(container_name, busybox_image, command=("sh", "-c", "exit 3"))

    result = wait_for(
        lambda: (r := probe_fresh(engine, container_name)).reason == "exited (code 3)" and r,
        timeout=20,
    )

    assert result.status is Status.DOWN
    assert result.facts[Fact.CONTAINER_STATE] == "exited"
    assert result.facts["exit_code"] == 3
    assert result.facts["oom_killed"] is False


def test_paused_container_is_down(
    engine: DockerEngine, busybox_image: str, container_name: str
) -> None:
    run(container_name, busybox_image)
    docker("pause", container_name)

    result = probe_fresh(engine, container_name)

    assert (result.status, result.reason) == (Status.DOWN, "paused")
    assert result.facts[Fact.CONTAINER_STATE] == "paused"


def test_created_but_never_started_container_is_down(
    engine: DockerEngine, busybox_image: str, container_name: str
) -> None:
    docker("create", "--network", "none", "--name", container_name, busybox_image, "true")

    result = probe_fresh(engine, container_name)

    assert (result.status, result.reason) == (Status.DOWN, "created")


def test_running_but_unhealthy_container_is_down_with_check_output(
    engine: DockerEngine, busybox_image: str, container_name: str
) -> None:
    health = ("--health-cmd", "echo boom; false", "--health-interval", "1s")
    run(container_name, busybox_image, *health, "--health-retries", "1")

    result = wait_for(
        lambda: (r := probe_fresh(engine, container_name)).status is Status.DOWN and r,
        timeout=30,
    )

    assert result.reason == "unhealthy: boom"
    assert result.facts[Fact.CONTAINER_STATE] == "running"
    assert result.facts["health"] == "unhealthy"


def test_running_container_with_passing_healthcheck_is_healthy(
    engine: DockerEngine, busybox_image: str, container_name: str
) -> None:
    run(container_name, busybox_image, "--health-cmd", "true", "--health-interval", "1s")

    result = wait_for(
        lambda: (r := probe_fresh(engine, container_name)).status is Status.HEALTHY and r,
        timeout=30,
    )

    assert result.facts["health"] == "healthy"


def test_container_in_health_start_period_is_starting(
    engine: DockerEngine, busybox_image: str, container_name: str
) -> None:
    health = ("--health-cmd", "false", "--health-interval", "30s")
    run(container_name, busybox_image, *health, "--health-start-period", "60s")

    result = probe_fresh(engine, container_name)

    assert result.status is Status.STARTING
    assert result.reason == "health check starting"
    assert result.facts["health"] == "starting"


def test_missing_container_is_down_not_found(engine: DockerEngine, docker_engine: None) -> None:
    result = probe_fresh(engine, f"hbtest-missing-{uuid.uuid4().hex[:10]}")

    assert (result.status, result.reason) == (Status.DOWN, NOT_FOUND)
    assert Fact.RESTART_COUNT not in result.facts


def test_restart_count_is_recorded_every_cycle(
    engine: DockerEngine, busybox_image: str, container_name: str
) -> None:
    restart = ("--restart", "on-failure:3")
    run(container_name, busybox_image, *restart, command=("sh", "-c", "exit 1"))

    first = wait_for(
        lambda: (r := probe_fresh(engine, container_name)).facts[Fact.RESTART_COUNT] and r,
        timeout=30,
    )
    final = wait_for(
        lambda: (
            (r := probe_fresh(engine, container_name)).facts[Fact.CONTAINER_STATE] == "exited"
            and r.facts[Fact.RESTART_COUNT] == 3
            and r
        ),
        timeout=60,
    )

    assert isinstance(first.facts[Fact.RESTART_COUNT], int)
    assert (final.status, final.reason) == (Status.DOWN, "exited (code 1)")
