"""The real exporter and alerter started as a pair against switchable services on 127.0.0.1."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.alerter.proc import EXPORTER, Process, alerter_env, start
from tests.alerter.receiver import Receiver
from tests.support import StatusServer, free_port, wait_for

Pattern = Callable[[int], int]  # request number (1-based) -> HTTP status


class PatternServer(StatusServer):
    """Answers the n-th request with `pattern(n)`: a cycle-exact script, whatever the timing.

    Each cycle probes a service once, so request n is the service's check in its n-th cycle.
    """

    def __init__(self, pattern: Pattern) -> None:
        self._fixed = 200
        super().__init__(200)  # sets `status`, which clears the pattern: set it after
        self.pattern: Pattern | None = pattern

    @property
    def status(self) -> int:
        return self.pattern(self.hits) if self.pattern is not None else self._fixed

    @status.setter
    def status(self, value: int) -> None:
        self.pattern, self._fixed = None, value


def cycles(tmp_path: Path) -> int:
    try:
        with sqlite3.connect(tmp_path / "metrics.db") as conn:
            return int(conn.execute("SELECT count(*) FROM monitoring_cycles").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def start_pair(
    tmp_path: Path,
    *,
    ping_url: str,
    interval: float,
    exporter_extra: dict[str, str],
    alerter_extra: dict[str, str],
    services: dict[str, str],
    settle: int = 1,
) -> tuple[Process, Process]:
    """The exporter first, then the alerter once `settle` cycles exist.

    On its first start the alerter replays the newest STATUS_CHANGE_THRESHOLD cycles; a loaded
    machine's first cycles can time out while connections are set up: settle past them.
    """
    accuracy = {"FLAP_CHANGES": "4", **alerter_extra}  # the default, unless given
    env = alerter_env(tmp_path, LOOP_INTERVAL_SECONDS=str(interval), **accuracy)
    exporter_env = alerter_env(
        tmp_path,
        LOOP_INTERVAL_SECONDS=str(interval),
        SERVICE_TIMEOUT_SECONDS=str(0.9 * interval),
        PING_URL=ping_url,
        TZ="UTC",
        EXPORTER_LISTEN=f"127.0.0.1:{free_port()}",
        **exporter_extra,
    )
    exporter_env.update({f"SERVICE_URL_{name}": url for name, url in services.items()})
    exporter = start(tmp_path, exporter_env, program=EXPORTER, name="exporter")
    wait_for(lambda: cycles(tmp_path) >= settle, timeout=30)
    alerter = start(tmp_path, env)
    alerter.wait_ready()
    return exporter, alerter


def received(hook: Receiver, item: str | None = None) -> list[dict[str, Any]]:
    return [b for b in hook.bodies() if item is None or b["item"] == item]
