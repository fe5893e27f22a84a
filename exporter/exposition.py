"""Renders /metrics once per cycle: a scrape of 1,000 services is then a copy, not 15k samples.

Rendering is lazy (nobody scraping means no CPU spent on it) and, once scrapes are seen,
done right after each cycle on a background thread so a scrape never waits for it.
"""

from __future__ import annotations

import io
import threading
import time

from prometheus_client import generate_latest
from prometheus_client.registry import Collector

from exporter.metrics import CycleCollector, registry_for, service_chunks

# Pre-render after a cycle only if someone scraped within this many seconds.
SCRAPED_RECENTLY_S = 120.0


class Exposition:
    def __init__(self, collector: CycleCollector, *others: Collector) -> None:
        """`others` are rendered with the cycle's families, each time a cycle is published."""
        self._collector = collector
        self._registry = registry_for(collector)
        for other in others:
            self._registry.register(other)
        self._lock = threading.Lock()
        self._rendered_version = -1
        self._text = b""
        self._last_scrape = float("-inf")

    def scrape(self) -> bytes:
        self._last_scrape = time.monotonic()
        return self._current()

    def cycle_published(self) -> None:
        if time.monotonic() - self._last_scrape <= SCRAPED_RECENTLY_S:
            threading.Thread(target=self._current, name="prerender", daemon=True).start()

    def _current(self) -> bytes:
        with self._lock:
            version = self._collector.version
            if version != self._rendered_version:
                self._text = b""  # scrapes wait on the lock: the old text need not outlive this
                self._text = self._render()
                self._rendered_version = version
            return self._text

    def _render(self) -> bytes:
        """The collector's families, then its cycle's services, both of one published cycle."""
        while True:
            published = self._collector.published
            head = generate_latest(self._registry)
            if self._collector.published is published:  # no cycle published in between
                cycle = published.cycle
                text = io.BytesIO(head)
                text.seek(0, io.SEEK_END)
                # BytesIO grows in place and getvalue() hands over its buffer: the text is
                # never held twice, as a join of its chunks would.
                for chunk in service_chunks(cycle.services) if cycle is not None else ():
                    text.write(chunk)
                return text.getvalue()
