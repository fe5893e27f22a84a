"""Renders a StatusSnapshot as one self-contained HTML page (inline CSS and SVG, no script)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from html import escape

from exporter.statuspage import svg
from exporter.statuspage.model import (
    UPTIME_WINDOWS,
    HostView,
    Incident,
    Overall,
    ServiceView,
    StatusSnapshot,
)
from hbmon.status import Status

BANNER_TEXT = {
    Overall.OPERATIONAL: "All systems operational",
    Overall.DEGRADED: "Some services are failing",
    Overall.OUTAGE: "Outage: every service is failing",
}
STATUS_WORD = {
    Status.HEALTHY: "Operational",
    Status.STARTING: "Starting",
    Status.ERROR: "Error",
    Status.TIMEOUT: "Timing out",
    Status.DOWN: "Down",
    Status.UNKNOWN: "Unknown",
}

_CSS = """
:root{--bg:#f6f7f9;--card:#fff;--fg:#1d232a;--muted:#5d6873;--line:#e1e5ea;
--ok:#2e9e5b;--warn:#d9a31a;--bad:#d64545;--idle:#9aa3ad}
@media (prefers-color-scheme:dark){:root{--bg:#111418;--card:#1a1f25;--fg:#e6e9ed;
--muted:#9aa5b1;--line:#2a313a}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);
font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:920px;margin:0 auto;padding:16px}
header h1{font-size:1.5rem;margin:8px 0 2px;overflow-wrap:anywhere}
.muted{color:var(--muted);font-size:.85rem}
.banner{margin:16px 0;padding:14px 16px;border-radius:10px;color:#fff;font-weight:600}
.banner.operational{background:var(--ok)}.banner.degraded{background:var(--warn)}
.banner.outage{background:var(--bad)}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;
padding:14px 16px;margin:12px 0}
.row{display:flex;flex-wrap:wrap;align-items:baseline;gap:4px 12px}
.name{font-weight:600;font-size:1.05rem;overflow-wrap:anywhere;flex:1 1 0;min-width:8rem}
.dot{display:inline-block;width:10px;height:10px;border-radius:50%;margin-right:6px}
.dot.ok{background:var(--ok)}.dot.bad{background:var(--bad)}.dot.idle{background:var(--idle)}
.state{font-weight:600}.state.ok{color:var(--ok)}.state.bad{color:var(--bad)}
.state.idle{color:var(--muted)}
.reason{margin:6px 0 0;color:var(--bad);overflow-wrap:anywhere;font-size:.9rem}
.target{overflow-wrap:anywhere}
.uptime{display:grid;grid-template-columns:repeat(4,minmax(0,1fr));gap:6px;margin:10px 0}
.uptime div{text-align:center;border:1px solid var(--line);border-radius:8px;padding:4px 2px}
.uptime b{display:block;font-size:.95rem}
svg.days{display:block;width:100%;height:28px}
.axis{display:flex;justify-content:space-between}
svg.spark{display:block;width:100%;height:32px;color:var(--muted);margin-top:8px}
details{margin-top:8px}summary{cursor:pointer;color:var(--muted);font-size:.9rem}
ul.incidents{margin:6px 0 0;padding-left:18px;font-size:.9rem}
ul.incidents li{overflow-wrap:anywhere}
.host{display:grid;grid-template-columns:repeat(auto-fit,minmax(120px,1fr));gap:8px}
.host div{text-align:center}.host b{display:block;font-size:1.2rem}
footer{margin:24px 0 8px;text-align:center}
"""


def _tz(snapshot: StatusSnapshot) -> timezone:
    return timezone(timedelta(minutes=snapshot.utc_offset_minutes))


def format_time(ts: float, tz: timezone) -> str:
    moment = datetime.fromtimestamp(ts, UTC).astimezone(tz)
    offset = "UTC" if tz.utcoffset(None) == timedelta(0) else moment.strftime("UTC%z")
    return f"{moment:%Y-%m-%d %H:%M} {offset}"


def format_duration(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    if seconds < 60:
        return f"{seconds} s"
    minutes, hours, days = seconds // 60 % 60, seconds // 3600 % 24, seconds // 86400
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def status_class(status: Status) -> str:
    if status is Status.HEALTHY:
        return "ok"
    return "idle" if status is Status.STARTING else "bad"


def _incident(incident: Incident, now: float, tz: timezone) -> str:
    end = incident.ended_at
    span = format_duration((end if end is not None else now) - incident.started_at)
    when = format_time(incident.started_at, tz)
    text = f"{when}, {span}" + (" (ongoing)" if end is None else "")
    if incident.reason:
        text += f": {incident.reason}"
    return f"<li>{escape(text)}</li>"


def _incidents(service: ServiceView, now: float, tz: timezone) -> str:
    if not service.incidents:
        return ""
    items = "".join(_incident(i, now, tz) for i in service.incidents)
    count = len(service.incidents)
    return (
        f"<details><summary>Recent incidents ({count})</summary>"
        f'<ul class="incidents">{items}</ul></details>'
    )


def _uptime_grid(service: ServiceView) -> str:
    cells = "".join(
        f'<div><b>{svg.percent(service.uptime.get(w))}</b><span class="muted">{w}</span></div>'
        for w in UPTIME_WINDOWS
    )
    return f'<div class="uptime">{cells}</div>'


def _service(service: ServiceView, snapshot: StatusSnapshot) -> str:
    css = status_class(service.status)
    word = STATUS_WORD.get(service.status, str(service.status))
    parts = [
        f'<article class="card service" data-service="{escape(service.name)}" '
        f'data-status="{escape(service.status.value)}">',
        f'<div class="row"><span class="name"><span class="dot {css}"></span>'
        f'{escape(service.name)}</span><span class="state {css}">{word}</span></div>',
    ]
    if service.reason and service.failing:
        parts.append(f'<p class="reason">{escape(service.reason)}</p>')
    if service.target:
        parts.append(
            f'<div class="muted target">{escape(service.kind)}: {escape(service.target)}</div>'
        )
    parts.append(_uptime_grid(service))
    if service.days:
        parts.append(svg.day_bars(service.days))
        parts.append(
            f'<div class="axis muted"><span>{len(service.days)} days ago</span>'
            "<span>today</span></div>"
        )
    if service.latency_p95_ms:
        parts.append(svg.sparkline(service.latency_p95_ms))
        parts.append('<div class="muted">p95 latency per hour, last 24 h</div>')
    parts.append(_incidents(service, snapshot.generated_at, _tz(snapshot)))
    parts.append("</article>")
    return "".join(parts)


def _metric(value: float | int | None, unit: str) -> str:
    if value is None:
        return "n/a"
    return f"{value:.0f}{unit}" if isinstance(value, float) else f"{value}{unit}"


def _host(host: HostView) -> str:
    cells = (
        ("CPU", _metric(host.cpu_percent, "%")),
        ("Memory", _metric(host.ram_percent, "%")),
        ("Disk", _metric(host.disk_percent, "%")),
        ("Containers", _metric(host.container_count, "")),
    )
    inner = "".join(f'<div><b>{v}</b><span class="muted">{k}</span></div>' for k, v in cells)
    return f'<section class="card" aria-label="host"><div class="host">{inner}</div></section>'


def render(snapshot: StatusSnapshot) -> str:
    """The whole page; every string that came from configuration or a probe is escaped."""
    tz = _tz(snapshot)
    overall = snapshot.overall
    last = (
        f"Last check {format_time(snapshot.last_cycle_at, tz)}"
        if snapshot.last_cycle_at is not None
        else "No check has completed yet"
    )
    services = "".join(_service(s, snapshot) for s in snapshot.services)
    if not services:
        services = '<p class="card muted">No services are configured.</p>'
    host = _host(snapshot.host) if snapshot.host is not None and not snapshot.public else ""
    title = escape(snapshot.title)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<meta http-equiv="refresh" content="{int(snapshot.refresh_seconds)}">'
        '<meta name="color-scheme" content="light dark">'
        # An inline empty icon: no favicon request, so no 404 in the browser's console.
        '<link rel="icon" href="data:,">'
        f"<title>{title}</title><style>{_CSS}</style></head><body><main>"
        f'<header><h1>{title}</h1><div class="muted">{last}</div></header>'
        f'<section class="banner {overall.value}" role="status">{BANNER_TEXT[overall]}</section>'
        f'<section aria-label="services">{services}</section>{host}'
        '<footer class="muted">heartbeat-monitor</footer></main></body></html>'
    )
