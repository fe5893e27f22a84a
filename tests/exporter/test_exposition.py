"""/metrics rendering: once per published cycle, pre-rendered only while someone scrapes."""

from __future__ import annotations

from exporter.exposition import Exposition
from exporter.metrics import CycleCollector
from tests.exporter.test_store import http_outcome, make_cycle
from tests.support import wait_for


def exposition() -> tuple[CycleCollector, Exposition]:
    collector = CycleCollector("1")
    return collector, Exposition(collector)


def test_scrape_reflects_each_new_cycle() -> None:
    collector, metrics = exposition()
    collector.publish(make_cycle(1000.0, http_outcome("api")))
    first = metrics.scrape()
    assert b'service="api"' in first
    assert metrics.scrape() is first  # same cycle: the rendered bytes are reused
    collector.publish(make_cycle(1010.0, http_outcome("web")))
    second = metrics.scrape()
    assert b'service="web"' in second
    assert b'service="api"' not in second


def test_no_prerender_until_someone_scrapes() -> None:
    collector, metrics = exposition()
    collector.publish(make_cycle(1000.0))
    metrics.cycle_published()
    assert metrics._rendered_version == -1
    metrics.scrape()
    collector.publish(make_cycle(1010.0))
    metrics.cycle_published()
    wait_for(lambda: metrics._rendered_version == collector.version, timeout=5)
