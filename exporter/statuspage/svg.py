"""Inline SVG pieces of the status page (day bar, latency sparkline) and the standalone badges."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from html import escape

from exporter.statuspage.model import DayBar

# Colours shared by bars and badges; the page's CSS uses the same ones for its dots.
GREEN = "#2e9e5b"
AMBER = "#d9a31a"
RED = "#d64545"
GREY = "#9aa3ad"

_BAR_W = 4  # one day's bar, in viewBox units
_BAR_GAP = 1
_BAR_H = 28


def uptime_colour(uptime: float | None) -> str:
    if uptime is None:
        return GREY
    if uptime >= 0.995:
        return GREEN
    return AMBER if uptime >= 0.95 else RED


def percent(uptime: float | None) -> str:
    """99.95 %, never a rounded-up 100 % while anything failed."""
    if uptime is None:
        return "no data"
    if uptime >= 1.0:
        return "100%"
    return f"{min(uptime * 100, 99.99):.2f}%"


def day_tooltip(bar: DayBar) -> str:
    if bar.checks == 0:
        return f"{bar.day}: no data"
    return f"{bar.day}: {percent(bar.uptime)} up ({bar.checks:,} checks, {bar.failures:,} failed)"


def day_bars(days: Sequence[DayBar]) -> str:
    """One rect per day with a <title> tooltip; scales to any width through its viewBox."""
    width = len(days) * (_BAR_W + _BAR_GAP) - _BAR_GAP
    rects = "".join(_day_rect(i, bar.day, bar.checks, bar.failures) for i, bar in enumerate(days))
    return (
        f'<svg class="days" viewBox="0 0 {max(width, 1)} {_BAR_H}" preserveAspectRatio="none" '
        f'role="img" aria-label="daily uptime, last {len(days)} days">{rects}</svg>'
    )


# Past days do not change between cycles: each page at 1,000 services would otherwise format
# the same 89,000 rects again (~0.8 s of a 2-core machine). Bounded: 90 days of 1,500 services.
@functools.lru_cache(maxsize=135_000)
def _day_rect(index: int, day: str, checks: int, failures: int) -> str:
    bar = DayBar(day, checks, failures)
    tooltip = escape(day_tooltip(bar))
    return (
        f'<rect x="{index * (_BAR_W + _BAR_GAP)}" y="0" width="{_BAR_W}" height="{_BAR_H}" '
        f'rx="1" fill="{uptime_colour(bar.uptime)}"><title>{tooltip}</title></rect>'
    )


def sparkline(values_ms: Sequence[float | None]) -> str:
    """p95 latency per hour as a polyline; hours without data break the line."""
    known = [v for v in values_ms if v is not None]
    if not known:
        return '<svg class="spark" viewBox="0 0 100 20" role="img" aria-label="no latency data"/>'
    top = max(known) or 1.0
    step = 100 / max(len(values_ms) - 1, 1)
    runs: list[list[str]] = [[]]
    for i, value in enumerate(values_ms):
        if value is None:
            runs.append([])
            continue
        runs[-1].append(f"{i * step:.1f},{19 - value / top * 18:.1f}")
    # A lone hour (data on neither side) is drawn as a short dash, or it would not show at all.
    runs = [_dash(run[0], step) if len(run) == 1 else run for run in runs]
    lines = "".join(
        f'<polyline points="{" ".join(run)}" fill="none" stroke="currentColor" '
        'stroke-width="1.2" vector-effect="non-scaling-stroke"/>'
        for run in runs
        if run
    )
    label = f"p95 latency per hour, last {len(values_ms)} h, peak {top:.0f} ms"
    return (
        f'<svg class="spark" viewBox="0 0 100 20" preserveAspectRatio="none" role="img" '
        f'aria-label="{escape(label)}"><title>{escape(label)}</title>{lines}</svg>'
    )


def _dash(point: str, step: float) -> list[str]:
    x, y = (float(v) for v in point.split(","))
    half = min(step / 3, 1.5)
    return [f"{max(x - half, 0):.1f},{y:.1f}", f"{min(x + half, 100):.1f},{y:.1f}"]


def _text_width(text: str) -> int:
    """Verdana 11 px averages ~6.5 px a character: good enough for a badge."""
    return int(len(text) * 6.5) + 10


def badge(label: str, value: str, colour: str) -> str:
    """A shields.io-style flat badge as a standalone SVG document."""
    lw, vw = _text_width(label), _text_width(value)
    label, value = escape(label), escape(value)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{lw + vw}" height="20" role="img" '
        f'aria-label="{label}: {value}"><title>{label}: {value}</title>'
        f'<rect width="{lw}" height="20" fill="#555"/>'
        f'<rect x="{lw}" width="{vw}" height="20" fill="{colour}"/>'
        '<g fill="#fff" text-anchor="middle" font-family="Verdana,DejaVu Sans,sans-serif" '
        'font-size="11">'
        f'<text x="{lw / 2}" y="14">{label}</text>'
        f'<text x="{lw + vw / 2}" y="14">{value}</text></g></svg>'
    )
