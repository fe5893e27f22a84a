"""The status page, its JSON and badges rendered from hand-made snapshots (pure functions)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import replace

import pytest

from exporter.statuspage import api, page, svg
from exporter.statuspage.model import (
    DayBar,
    HostView,
    Incident,
    Overall,
    ServiceView,
    StatusSnapshot,
)
from hbmon.status import Status

NOW = 1_764_600_000.0
HOSTILE = '<script>alert("x")</script>'


def service(name: str = "web", status: Status = Status.HEALTHY, **kw: object) -> ServiceView:
    fields: dict[str, object] = {
        "kind": "http",
        "reason": None,
        "target": "https://web.example.test/health",
        "uptime": {"24h": 1.0, "7d": 0.9995, "30d": None, "90d": None},
        "days": (DayBar("2026-11-30", 8640, 0), DayBar("2026-12-01", 100, 25)),
        "latency_p95_ms": (12.0, None, 30.0),
        "incidents": (Incident(NOW - 3600, NOW - 3000, "HTTP 503"),),
    }
    fields.update(kw)
    return ServiceView(name=name, status=status, **fields)  # type: ignore[arg-type]


def snapshot(*services: ServiceView) -> StatusSnapshot:
    return StatusSnapshot(
        title="Status",
        generated_at=NOW,
        last_cycle_at=NOW - 5,
        services=services,
        host=HostView(cpu_percent=12.5, ram_percent=40.0, disk_percent=70.0, container_count=3),
    )


@pytest.mark.parametrize(
    ("statuses", "overall"),
    [
        ((Status.HEALTHY, Status.HEALTHY), Overall.OPERATIONAL),
        ((Status.HEALTHY, Status.STARTING), Overall.OPERATIONAL),
        ((Status.HEALTHY, Status.DOWN), Overall.DEGRADED),
        ((Status.TIMEOUT, Status.UNKNOWN), Overall.OUTAGE),
        ((), Overall.OPERATIONAL),
    ],
)
def test_banner_follows_the_failing_share(statuses: tuple[Status, ...], overall: Overall) -> None:
    snap = snapshot(*(service(f"s{i}", s) for i, s in enumerate(statuses)))
    assert snap.overall is overall
    assert f'class="banner {overall.value}"' in page.render(snap)


def test_every_configured_or_probed_string_is_escaped() -> None:
    hostile = service(
        HOSTILE,
        Status.DOWN,
        reason=HOSTILE,
        target="https://x.test/?q=" + HOSTILE,
        incidents=(Incident(NOW - 60, None, HOSTILE),),
    )
    snap = replace(snapshot(hostile), title=HOSTILE)
    html = page.render(snap)
    assert "<script" not in html
    assert (
        html.count("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;") == 7
    )  # title, h1, data-service, name, reason, target, incident
    assert "<script" not in api.status_badge(hostile)
    assert json.loads(api.status_json(snap))["services"][0]["reason"] == HOSTILE


def test_public_page_hides_urls_reasons_incident_reasons_and_host() -> None:
    down = service("api", Status.DOWN, reason="connection refused by 10.1.2.3")
    public = snapshot(down).for_public()
    html = page.render(public)
    for secret in ("web.example.test", "10.1.2.3", "HTTP 503", "CPU", "Containers"):
        assert secret not in html
    data = json.loads(api.status_json(public))
    assert data["host"] is None
    assert data["services"][0]["target"] is None
    assert data["services"][0]["reason"] is None
    assert data["services"][0]["incidents"][0]["reason"] is None
    assert data["services"][0]["status"] == "down"


def test_private_page_shows_reason_target_host_and_incident() -> None:
    html = page.render(snapshot(service("api", Status.DOWN, reason="connection refused")))
    for shown in ("connection refused", "web.example.test", "CPU", "HTTP 503", "10 min"):
        assert shown in html


def test_day_bar_has_one_tooltip_per_day_and_colours_by_uptime() -> None:
    bars = svg.day_bars(
        (DayBar("2026-11-29", 0, 0), DayBar("2026-11-30", 8640, 0), DayBar("2026-12-01", 100, 25))
    )
    root = ET.fromstring(bars)
    titles = [r.findtext("title") for r in root]
    fills = [r.get("fill") for r in root]
    assert titles == [
        "2026-11-29: no data",
        "2026-11-30: 100% up (8,640 checks, 0 failed)",
        "2026-12-01: 75.00% up (100 checks, 25 failed)",
    ]
    assert fills == [svg.GREY, svg.GREEN, svg.RED]


@pytest.mark.parametrize(
    ("uptime", "text"),
    [(None, "no data"), (1.0, "100%"), (0.99999, "99.99%"), (0.5, "50.00%"), (0.0, "0.00%")],
)
def test_percent_never_rounds_a_failure_up_to_100(uptime: float | None, text: str) -> None:
    assert svg.percent(uptime) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(5, "5 s"), (60, "1 min"), (3725, "1 h 2 min"), (90000, "1 d 1 h"), (-3, "0 s")],
)
def test_durations_read_like_a_person_writes_them(seconds: float, text: str) -> None:
    assert page.format_duration(seconds) == text


def test_sparkline_breaks_at_hours_without_data() -> None:
    root = ET.fromstring(svg.sparkline((10.0, 20.0, None, 5.0, 40.0)))
    lines = root.findall("polyline")
    assert [len(p.get("points", "").split()) for p in lines] == [2, 2]
    assert "peak 40 ms" in (root.findtext("title") or "")


@pytest.mark.parametrize(
    ("status", "value", "colour"),
    [
        (Status.HEALTHY, "up", svg.GREEN),
        (Status.STARTING, "starting", svg.GREY),
        (Status.TIMEOUT, "down", svg.RED),
    ],
)
def test_status_badge_is_valid_svg_naming_the_service(
    status: Status, value: str, colour: str
) -> None:
    root = ET.fromstring(api.status_badge(service("web", status)))
    assert root.get("aria-label") == f"web: {value}"
    assert colour in {r.get("fill") for r in root.iter("{http://www.w3.org/2000/svg}rect")}


def test_uptime_badge_shows_the_window_and_no_data() -> None:
    web = service()
    assert ET.fromstring(api.uptime_badge(web, "7d")).get("aria-label") == "uptime 7d: 99.95%"
    assert ET.fromstring(api.uptime_badge(web, "90d")).get("aria-label") == "uptime 90d: no data"


def test_times_show_in_the_configured_offset() -> None:
    snap = replace(snapshot(service()), utc_offset_minutes=60)
    assert "Last check 2025-12-01 15:39 UTC+0100" in page.render(snap)
