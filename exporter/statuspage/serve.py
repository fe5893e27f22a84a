"""Serves the status page, its JSON and badges: built on the HTTP thread, once per cycle."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import unquote

import peewee

from exporter.config import ExporterConfig
from exporter.cycle import Cycle
from exporter.statuspage import api, page
from exporter.statuspage.build import History, PageSettings, build
from exporter.statuspage.history import RollupCache
from exporter.statuspage.model import StatusSnapshot
from exporter.store import Store
from hbmon.db import incidents
from hbmon.db.trouble import classify
from hbmon.httpserver import Response, Routes

HTML = "text/html; charset=utf-8"
JSON = "application/json"
SVG = "image/svg+xml"
INCIDENT_DAYS = 90
_NOT_FOUND: Response = (HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8")


@dataclass
class _Rendered:
    """One cycle's snapshot and its forms, each made the first time it is asked for."""

    key: float | None  # completed_at of the cycle it shows
    snapshot: StatusSnapshot
    html: bytes | None = None
    json: bytes | None = None


class StatusPage:
    """Answers `/`, `/api/status` and `/badge/...`; never runs on the cycle thread."""

    def __init__(
        self, config: ExporterConfig, store: Store, last_cycle: Callable[[], Cycle | None]
    ) -> None:
        self._config = config
        self._store = store
        self._last_cycle = last_cycle
        self._settings = PageSettings(
            config.status_page_title,
            config.status_page_public,
            config.tz,
            refresh_seconds=max(10, round(config.interval)),
        )
        self._lock = threading.Lock()  # one build at a time; the others wait and share it
        self._cached: _Rendered | None = None
        self._closed = RollupCache(config.tz)

    def snapshot(self) -> StatusSnapshot:
        with self._lock:
            return self._current().snapshot

    def _current(self) -> _Rendered:
        cycle = self._last_cycle()
        key = None if cycle is None else cycle.completed_at
        if self._cached is None or self._cached.key != key:
            snapshot = build(self._config.services, cycle, self._history(), self._settings)
            self._cached = _Rendered(key, snapshot)
        return self._cached

    def _html(self) -> bytes:
        with self._lock:
            rendered = self._current()
            if rendered.html is None:
                rendered.html = page.render(rendered.snapshot).encode()
            return rendered.html

    def _json(self) -> bytes:
        with self._lock:
            rendered = self._current()
            if rendered.json is None:
                rendered.json = api.status_json(rendered.snapshot)
            return rendered.json

    def _history(self) -> History:
        now = time.time()
        db = self._store.database
        open_start, open_hour = self._store.history.open_hour()
        with db.atomic():  # one read snapshot of hours, days and incidents
            self._closed.refresh(db, now)
            return History(
                now=now,
                closed=self._closed,
                open_start=open_start,
                open_hour=open_hour,
                incidents=incidents.incidents_since(db, now - INCIDENT_DAYS * 86400.0),
            )

    def respond(self, path: str) -> Response | None:
        """The answer for a status page path; None for any other path.

        A database that refuses even reads (read-only or immutable files) is a 503 naming the
        condition, not a dropped connection: the store's own log line already names the cause.
        """
        try:
            return self._route(path)
        except peewee.DatabaseError as exc:
            body = f"status page unavailable: database {classify(exc).value}\n".encode()
            return HTTPStatus.SERVICE_UNAVAILABLE, body, "text/plain; charset=utf-8"

    def _route(self, path: str) -> Response | None:
        if path == "/":
            return HTTPStatus.OK, self._html(), HTML
        if path == "/api/status":
            return HTTPStatus.OK, self._json(), JSON
        if path.startswith("/badge/"):
            return self._badge(path.removeprefix("/badge/").split("/"))
        return None

    def _badge(self, parts: list[str]) -> Response:
        if len(parts) < 2:
            return _NOT_FOUND
        name = unquote(parts[0])
        service = next((s for s in self.snapshot().services if s.name == name), None)
        if service is None:
            return _NOT_FOUND
        if parts[1:] == ["status.svg"]:
            return HTTPStatus.OK, api.status_badge(service).encode(), SVG
        window = parts[2].removesuffix(".svg") if len(parts) == 3 else ""
        if parts[1] == "uptime" and parts[2].endswith(".svg") and window in api.BADGE_WINDOWS:
            return HTTPStatus.OK, api.uptime_badge(service, window).encode(), SVG
        return _NOT_FOUND


def status_routes(
    config: ExporterConfig, store: Store, last_cycle: Callable[[], Cycle | None]
) -> Routes | None:
    """The status page's routes, or None when `STATUS_PAGE=off`."""
    return StatusPage(config, store, last_cycle).respond if config.status_page else None
