"""Edge cases the engine cannot produce on demand, through a fake of our seam (not the SDK)."""

from __future__ import annotations

import pytest

from exporter.dockerengine import ContainerDetails, ContainerSummary, DockerView, EngineUnreachable
from exporter.probes.docker import MAX_OUTPUT_CHARS, NOT_FOUND, UNREACHABLE, one_line
from hbmon.status import Status
from tests.exporter.test_docker_probe import probe_in

ID = "a" * 64


class FakeSource:
    """Serves fixed containers; `details` None models a container removed after the list."""

    def __init__(
        self, containers: tuple[ContainerSummary, ...], details: ContainerDetails | None = None
    ) -> None:
        self.containers = containers
        self.details = details

    def list_containers(self) -> tuple[ContainerSummary, ...]:
        return self.containers

    def inspect_container(self, container_id: str) -> ContainerDetails | None:
        return self.details


class DeadSource:
    def list_containers(self) -> tuple[ContainerSummary, ...]:
        raise EngineUnreachable("ConnectionError: refused")

    def inspect_container(self, container_id: str) -> ContainerDetails | None:
        raise AssertionError("inspect after a failed list")


def details(
    state: str,
    *,
    exit_code: int = 0,
    oom: bool = False,
    health: str | None = None,
    output: str | None = None,
) -> ContainerDetails:
    return ContainerDetails(ID, state, exit_code, oom, 2, health, output)


def view_of(container: ContainerDetails | None) -> DockerView:
    return DockerView(FakeSource((ContainerSummary(ID, ("web",), "running"),), container))


@pytest.mark.parametrize(
    ("container", "status", "reason"),
    [
        (details("exited", exit_code=137, oom=True), Status.DOWN, "exited (code 137), OOM-killed"),
        (details("dead", exit_code=1), Status.DOWN, "dead"),
        (details("removing"), Status.DOWN, "removing"),
        (details("restarting", oom=True), Status.DOWN, "restarting, OOM-killed"),
        (details("running", health="unhealthy"), Status.DOWN, "unhealthy"),
        (
            details("running", health="unhealthy", output="a\n\tb\x1b[0m\n"),
            Status.DOWN,
            "unhealthy: a b [0m",
        ),
        (details("running", health="healthy"), Status.HEALTHY, None),
        (details("", exit_code=1), Status.DOWN, "unknown state"),
        (None, Status.DOWN, NOT_FOUND),
    ],
)
def test_container_state_maps_to_status_and_reason(
    container: ContainerDetails | None, status: Status, reason: str | None
) -> None:
    result = probe_in(view_of(container), "web")

    assert result.status is status
    if reason is not None:
        assert result.reason == reason


def test_health_output_becomes_one_bounded_line() -> None:
    noisy = "first line\r\n\tsecond\x1b[31m line\n" + "x" * 1000
    result = probe_in(view_of(details("running", health="unhealthy", output=noisy)), "web")

    assert result.reason is not None
    assert result.reason.startswith("unhealthy: first line second [31m line xxx")
    assert "\n" not in result.reason
    assert len(result.reason) == len("unhealthy: ") + MAX_OUTPUT_CHARS
    assert result.reason.endswith("…")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", ""), ("  ok \n", "ok"), ("a\nb", "a b"), ("x" * 5, "xxxxx"), ("x" * 6, "xxxx…")],
)
def test_one_line(text: str, expected: str) -> None:
    assert one_line(text, limit=5) == expected


def test_oom_killed_exit_is_recorded_in_facts() -> None:
    container = details("exited", exit_code=137, oom=True)
    result = probe_in(view_of(container), "web")

    assert result.facts == {
        "container_state": "exited",
        "restart_count": 2,
        "health": None,
        "oom_killed": True,
        "exit_code": 137,
    }


def test_no_engine_configured_is_unknown() -> None:
    result = probe_in(None, "web")

    assert (result.status, result.reason) == (Status.UNKNOWN, UNREACHABLE)


def test_failed_list_is_unknown_for_every_probe_and_no_running_count() -> None:
    view = DockerView(DeadSource())

    results = [probe_in(view, name) for name in ("web", "db")]

    assert [(r.status, r.reason) for r in results] == [(Status.UNKNOWN, UNREACHABLE)] * 2
    assert results[0].facts["engine_error"] == "ConnectionError: refused"
    assert view.running_count() is None


def test_running_count_ignores_every_other_state() -> None:
    states = ["running", "paused", "restarting", "exited", "created", "dead", "running"]
    containers = tuple(ContainerSummary(f"{i:064x}", (f"c{i}",), s) for i, s in enumerate(states))

    assert DockerView(FakeSource(containers)).running_count() == 2


@pytest.mark.parametrize(
    ("target", "found"),
    [
        ("web", "1" * 64),  # exact name wins over an ID prefix
        ("b" * 64, "b" * 64),
        ("b" * 12, "b" * 64),
        ("b" * 11, None),  # too short to be taken for an ID
        ("c" * 12, None),  # ambiguous prefix
        ("/web", None),
        ("we", None),
    ],
)
def test_find_matches_name_full_id_or_unique_long_prefix(target: str, found: str | None) -> None:
    containers = (
        ContainerSummary("1" * 64, ("web",), "running"),
        ContainerSummary("b" * 64, ("other",), "running"),
        ContainerSummary("c" * 63 + "1", ("c1",), "running"),
        ContainerSummary("c" * 63 + "2", ("c2",), "running"),
    )
    match = DockerView(FakeSource(containers)).find(target)

    assert (match.id if match else None) == found
