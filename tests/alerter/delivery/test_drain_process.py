"""The real `heartbeat-alerter` draining a backlog after a webhook outage (issue 13 item 6)."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from pathlib import Path

import pytest

from tests.alerter.dbutil import exporter_db, insert_cycle
from tests.alerter.proc import alerter_env, start
from tests.alerter.receiver import Answer, Received, receiving
from tests.support import wait_for

pytestmark = pytest.mark.slow
SERVICES = [f"svc{n}" for n in range(10)]
OUTAGE = 20.0
DRAIN_LIMIT = 15.0


def test_200_alerts_queued_during_an_outage_drain_within_15_s_in_per_item_order(
    tmp_path: Path,
) -> None:
    """The issue asks for a 2-minute outage; it lasts 20 s here to keep the suite short. With
    ALERT_RETRY_BASE_SECONDS=1 and ALERT_RETRY_MAX_SECONDS=30 each item's own backoff has
    reached 8-16 s when the webhook returns: without the fast drain the backlog would take
    several such waits, one per item."""
    back = threading.Event()

    def script(_r: Received) -> Answer:
        return Answer(200) if back.is_set() else Answer(503)

    db = tmp_path / "metrics.db"
    with receiving(script) as hook:
        writer = exporter_db(db)
        process = start(
            tmp_path,
            alerter_env(
                tmp_path,
                N8N_WEBHOOK_URL=hook.url,
                STATUS_CHANGE_THRESHOLD="1",
                ALERT_RETRY_BASE_SECONDS="1",
                ALERT_RETRY_MAX_SECONDS="30",
            ),
        )
        try:
            process.wait_ready()
            began = time.monotonic()
            for index in range(20):
                status = "down" if index % 2 == 0 else "healthy"
                insert_cycle(writer, dict.fromkeys(SERVICES, status))
            time.sleep(max(0.0, OUTAGE - (time.monotonic() - began)))
            returned = time.time()
            back.set()
            wait_for(lambda: len(hook.bodies()) >= 200, timeout=DRAIN_LIMIT + 30)
            assert process.terminate() == 0
        finally:
            writer.close()
            if process.popen.poll() is None:
                process.kill()
    accepted = [r for r in hook.all_requests() if r.at >= returned]
    bodies = hook.bodies()
    drained = max(r.at for r in accepted) - returned
    per_item: dict[str, list[int]] = defaultdict(list)
    for body in bodies:
        per_item[body["item"]].append(body["cycle_id"])
    assert len({b["id"] for b in bodies}) == 200
    assert all(ids == sorted(ids) for ids in per_item.values())
    assert drained <= DRAIN_LIMIT, drained
    print(f"200 alerts drained {drained:.1f} s after the webhook came back")
