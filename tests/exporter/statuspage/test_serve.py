"""The status page routes over real HTTP, from a real store: page, JSON, badges, 404s, privacy."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from exporter.config import ExporterConfig
from exporter.cycle import Cycle, ServiceOutcome
from exporter.probes.base import ProbeResult
from exporter.statuspage.serve import StatusPage, status_routes
from exporter.store import Store
from hbmon.db import alerts
from hbmon.envconfig import ListenAddress
from hbmon.httpserver import serve
from hbmon.status import Status
from tests.exporter.test_store import LIMA, make_cycle

ENV = {
    "SERVICE_URL_web": "https://user:hunter2@web.test/path?token=s3cret",
    "SERVICE_URL_db": "docker:postgres",
    "STATUS_PAGE_TITLE": "Status of <vps1>",
    "TZ": "America/Lima",
}
EVIL = "<script>alert(1)</script>"


def outcomes(config: ExporterConfig, web: Status, reason: str | None) -> tuple[ServiceOutcome, ...]:
    web_spec, db_spec = sorted(config.services, key=lambda s: s.name != "web")
    return (
        ServiceOutcome(web_spec, ProbeResult(web, latency_s=0.02, reason=reason)),
        ServiceOutcome(db_spec, ProbeResult(Status.HEALTHY, latency_s=0.001)),
    )


class Site:
    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.config = ExporterConfig.from_env({**ENV, **env})
        self.store = Store(tmp_path / "m.db", LIMA)
        self.last: Cycle | None = None
        self.page = StatusPage(self.config, self.store, lambda: self.last)
        self.server = serve(
            ListenAddress("127.0.0.1", 0),
            lambda: b"",
            lambda: (True, "ok"),
            status_routes(self.config, self.store, lambda: self.last),
        )
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def cycle(self, started_at: float, web: Status, reason: str | None = None) -> None:
        self.last = make_cycle(started_at, *outcomes(self.config, web, reason))
        self.store.write(self.last)

    def get(self, path: str) -> tuple[int, str, str]:
        try:
            with urllib.request.urlopen(self.base + path, timeout=10) as answer:
                return answer.status, answer.headers["Content-Type"], answer.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.headers["Content-Type"], error.read().decode()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.store.close()


@pytest.fixture
def site(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Site]:
    opened = Site(tmp_path, getattr(request, "param", {}))
    yield opened
    opened.close()


def test_page_json_and_badges_show_what_the_database_holds(site: Site) -> None:
    now = time.time()
    site.cycle(now - 2 * 3600, Status.HEALTHY)  # a closed hour: rollups, not raw rows
    site.cycle(now - 20, Status.DOWN, EVIL)
    status, kind, body = site.get("/api/status")
    assert (status, kind) == (200, "application/json")
    document = json.loads(body)
    assert document["overall"] == "degraded"
    web = next(s for s in document["services"] if s["name"] == "web")
    assert (web["status"], web["reason"], web["uptime"]["24h"]) == ("down", EVIL, 0.5)
    assert web["target"] == "https://web.test/path"
    assert "hunter2" not in body and "s3cret" not in body
    assert len(web["days"]) == 90 and web["days"][-1]["checks"] >= 1
    status, kind, html = site.get("/")
    assert (status, kind) == (200, "text/html; charset=utf-8")
    assert EVIL not in html and "&lt;script&gt;" in html
    assert "Status of &lt;vps1&gt;" in html
    assert site.get("/badge/web/status.svg")[:2] == (200, "image/svg+xml")
    assert ">down<" in site.get("/badge/web/status.svg")[2]
    assert "50" in site.get("/badge/web/uptime/24h.svg")[2]
    for window in ("7d", "30d", "90d"):
        assert site.get(f"/badge/db/uptime/{window}.svg")[0] == 200


@pytest.mark.parametrize(
    "path",
    [
        "/badge/web/uptime/1y.svg",
        "/badge/nope/status.svg",
        "/badge/web",
        "/badge/web/x.svg",
        "/badge/web/uptime/24h.png",
        "/nothing",
    ],
)
def test_unknown_paths_are_404(site: Site, path: str) -> None:
    site.cycle(time.time(), Status.HEALTHY)
    assert site.get(path)[0] == 404


@pytest.mark.parametrize("site", [{"STATUS_PAGE": "off"}], indirect=True)
def test_status_page_off_serves_nothing(site: Site) -> None:
    assert site.get("/")[0] == 404
    assert site.get("/api/status")[0] == 404


@pytest.mark.parametrize("site", [{"STATUS_PAGE_PUBLIC": "true"}], indirect=True)
def test_public_page_hides_urls_reasons_and_host(site: Site) -> None:
    site.cycle(time.time(), Status.DOWN, "refused by 10.0.0.7")
    body = site.get("/api/status")[2]
    document = json.loads(body)
    assert document["host"] is None
    assert all(s["reason"] is None and s["target"] is None for s in document["services"])
    assert "10.0.0.7" not in site.get("/")[2] and "web.test" not in site.get("/")[2]


def test_incidents_come_from_the_alerters_outbox(site: Site) -> None:
    alerts.migrate(site.store.database)
    now = time.time()
    rows = [
        ("a1", "service:web", "service_down", now - 600, {"reason": "HTTP 503"}),
        ("a2", "service:web", "service_recovered", now - 300, {"reason": None}),
        ("a3", "service:web", "service_down", now - 60, {"reason": "refused"}),
        ("a4", "worker", "worker_status_changed", now - 50, {}),
    ]
    for alert_id, item, event, created, payload in rows:
        site.store.database.execute_sql(
            "INSERT INTO alert_outbox (alert_id, item, event, created_at, payload, state, "
            "attempts, next_attempt_at) VALUES (?, ?, ?, ?, ?, 'delivered', 1, 0)",
            (alert_id, item, event, created, json.dumps(payload)),
        )
    site.cycle(now, Status.DOWN, "refused")
    web = next(s for s in json.loads(site.get("/api/status")[2])["services"] if s["name"] == "web")
    assert web["incidents"] == [
        {"started_at": now - 60, "ended_at": None, "reason": "refused"},
        {"started_at": now - 600, "ended_at": now - 300, "reason": "HTTP 503"},
    ]


def test_before_the_first_cycle_every_service_is_listed_as_unknown(site: Site) -> None:
    snapshot = site.page.snapshot()
    assert [(s.name, s.status, s.reason) for s in snapshot.services] == [
        ("db", Status.UNKNOWN, "not checked yet"),
        ("web", Status.UNKNOWN, "not checked yet"),
    ]
    assert snapshot.host is None and snapshot.last_cycle_at is None


def test_the_snapshot_is_built_once_per_cycle(site: Site) -> None:
    site.cycle(time.time(), Status.HEALTHY)
    first = site.page.snapshot()
    assert site.page.snapshot() is first
    site.cycle(time.time() + 1, Status.DOWN)
    assert site.page.snapshot() is not first
