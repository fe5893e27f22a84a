"""End to end at a 1 s interval: an intermittent service is degraded, a flapping one flaps."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.alerter.pair import PatternServer, cycles, received, start_pair
from tests.alerter.receiver import receiving
from tests.support import StatusServer, wait_for

pytestmark = pytest.mark.slow
INTERVAL = 1.0
WARM_UP = 3  # healthy requests before a pattern starts


@pytest.fixture
def ping() -> Iterator[StatusServer]:
    server = StatusServer(200)
    yield server
    server.close()


def three_fail_one_pass(n: int) -> int:
    """Healthy, then 16 requests of 3 failures and 1 success, then healthy for good."""
    step = n - WARM_UP - 1
    return 500 if 0 <= step < 16 and step % 4 != 3 else 200


def up_down_every_3(n: int) -> int:
    """Healthy, then 3 failing / 3 healthy for 24 requests, then healthy for good."""
    step = n - WARM_UP - 1
    return 500 if 0 <= step < 24 and step % 6 < 3 else 200


def test_intermittent_service_is_degraded_once_then_cleared(
    tmp_path: Path, ping: StatusServer
) -> None:
    service = PatternServer(three_fail_one_pass)
    with receiving() as hook:
        exporter, alerter = start_pair(
            tmp_path,
            ping_url=ping.url,
            interval=INTERVAL,
            exporter_extra={},
            alerter_extra={"N8N_WEBHOOK_URL": hook.url},  # the defaults
            services={"api": service.url},
        )
        try:
            wait_for(lambda: len(received(hook, "api")) >= 2, timeout=90)
            degraded, cleared = received(hook, "api")[:2]
            assert [degraded["event"], cleared["event"]] == [
                "service_degraded",
                "service_degraded_cleared",
            ]
            assert (degraded["failures"], degraded["window"]) == (6, 12)
            assert (cleared["failures"], cleared["status"]) == (1, "healthy")
            wait_for(lambda: service.hits >= WARM_UP + 16 + 15, timeout=60)
            assert [b["event"] for b in received(hook, "api")] == [
                "service_degraded",
                "service_degraded_cleared",
            ]
        finally:
            assert alerter.terminate() == 0
            exporter.terminate()
            service.close()


def test_flapping_service_sends_flapping_then_flapping_ended(
    tmp_path: Path, ping: StatusServer
) -> None:
    service = PatternServer(up_down_every_3)
    with receiving() as hook:
        exporter, alerter = start_pair(
            tmp_path,
            ping_url=ping.url,
            interval=INTERVAL,
            exporter_extra={},
            alerter_extra={
                "N8N_WEBHOOK_URL": hook.url,
                "STATUS_CHANGE_THRESHOLD": "2",
                "FLAP_WINDOW_CYCLES": "10",
            },
            services={"api": service.url},
        )
        try:
            wait_for(
                lambda: any(b["event"] == "service_flapping_ended" for b in received(hook)),
                timeout=120,
            )
            bodies = received(hook, "api")
            assert [b["event"] for b in bodies] == [
                "service_down",
                "service_recovered",
                "service_down",
                "service_flapping",
                "service_flapping_ended",
            ]
            assert bodies[3]["previous_status"] == "error"
            assert (bodies[4]["status"], bodies[4]["previous_status"]) == ("healthy", "flapping")
        finally:
            assert alerter.terminate() == 0
            exporter.terminate()
            service.close()


def test_twenty_services_behind_a_failing_internet_send_one_internet_down(
    tmp_path: Path, ping: StatusServer
) -> None:
    """Loopback is not public: SERVICE_DEPENDS_ON_<name>=internet makes them internet-bound."""
    remote = StatusServer(200)
    names = [f"remote{n:02d}" for n in range(20)]
    with receiving() as hook:
        exporter, alerter = start_pair(
            tmp_path,
            ping_url=ping.url,
            interval=INTERVAL,
            exporter_extra={f"SERVICE_DEPENDS_ON_{name}": "internet" for name in names},
            alerter_extra={"N8N_WEBHOOK_URL": hook.url, "STATUS_CHANGE_THRESHOLD": "2"},
            services={name: f"{remote.url}{name}" for name in names},
            settle=4,
        )
        try:
            wait_for(lambda: cycles(tmp_path) >= 6, timeout=30)
            ping.status = remote.status = 503  # the uplink goes: every remote service fails
            (down,) = wait_for(lambda: received(hook), timeout=60)
            failing_since = cycles(tmp_path)
            wait_for(lambda: cycles(tmp_path) >= failing_since + 4, timeout=60)
            ping.status = remote.status = 200
            wait_for(lambda: len(received(hook)) >= 2, timeout=60)
            recovered_at = cycles(tmp_path)
            wait_for(lambda: cycles(tmp_path) >= recovered_at + 4, timeout=60)
            assert [b["event"] for b in received(hook)] == ["internet_down", "internet_recovered"]
            assert (down["item"], down["affected"]) == ("internet", names)
        finally:
            assert alerter.terminate() == 0
            exporter.terminate()
            remote.close()
