"""End to end: the real exporter probes a local HTTPS service whose certificate expires soon."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest
import trustme

from tests.alerter.proc import EXPORTER, alerter_env, start
from tests.alerter.receiver import receiving
from tests.alerter.test_e2e_exporter import INTERVAL, alerts, cycles, exporter_env
from tests.netservers import ca_file, ok, serve, tls_with_cert
from tests.support import StatusServer, wait_for

pytestmark = pytest.mark.slow


def outbox_events(tmp_path: Path) -> list[str]:
    with sqlite3.connect(tmp_path / "metrics.db") as conn:
        return [str(r[0]) for r in conn.execute("SELECT event FROM alert_outbox ORDER BY seq")]


def test_certificate_expiring_in_three_days_alerts_once_and_not_again_after_restart(
    tmp_path: Path,
) -> None:
    ca = trustme.CA()
    not_after = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    tls = tls_with_cert(ca.issue_cert("127.0.0.1", not_after=not_after))
    ping = StatusServer(200)
    with serve(ok, tls=tls) as server, receiving() as hook:
        env = exporter_env(tmp_path, ping, secure=server.url())
        env["HTTP_CA_BUNDLE"] = str(ca_file(ca, tmp_path))
        exporter = start(tmp_path, env, program=EXPORTER, name="exporter")
        wait_for(lambda: cycles(tmp_path) > 0, timeout=20)
        alerter_vars = {"LOOP_INTERVAL_SECONDS": str(INTERVAL), "N8N_WEBHOOK_URL": hook.url}
        alerter = start(tmp_path, alerter_env(tmp_path, **alerter_vars))
        alerter.wait_ready()
        try:
            (notice,) = wait_for(lambda: alerts(hook, "certificate_expiring"), timeout=20)
            assert (notice["item"], notice["kind"], notice["status"]) == (
                "secure",
                "http",
                "healthy",
            )
            assert notice["days_left"] in (2, 3)
            assert notice["expires_at"].startswith(not_after.strftime("%Y-%m-%dT%H:%M"))
            assert alerter.terminate() == 0
            seen = cycles(tmp_path)
            alerter = start(tmp_path, alerter.env)
            alerter.wait_ready()
            wait_for(lambda: cycles(tmp_path) >= seen + 6, timeout=20, interval=INTERVAL)
            wait_for(lambda: _tail_caught_up(tmp_path), timeout=20)
            assert [b["event"] for b in hook.bodies()] == ["certificate_expiring"]
            assert outbox_events(tmp_path) == ["certificate_expiring"]
        finally:
            assert alerter.terminate() == 0
            exporter.terminate()
            ping.close()


def _tail_caught_up(tmp_path: Path) -> bool:
    with sqlite3.connect(tmp_path / "metrics.db") as conn:
        cursor = conn.execute("SELECT last_cycle_id FROM alerter_cursor").fetchone()[0]
        newest = conn.execute("SELECT max(id) FROM monitoring_cycles").fetchone()[0]
    return bool(cursor >= newest - 1)
