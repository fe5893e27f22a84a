"""The rendered page in real headless Chromium: no console errors, no sideways scroll on a phone.

Served by a real local HTTP server from hand-made snapshots; the test against a running exporter
lives with the exporter's HTTP routes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from exporter.statuspage import page
from exporter.statuspage.model import DayBar, HostView, Incident, ServiceView, StatusSnapshot
from hbmon.status import Status
from tests.browser import Browser

NOW = 1_764_600_000.0
LONG = "docker:a-container-name-that-is-far-too-long-to-fit-on-one-phone-line-anywhere"


def _snapshot() -> StatusSnapshot:
    days = tuple(DayBar(f"d{i}", 8640 if i > 9 else 0, i % 7) for i in range(90))
    services = (
        ServiceView(
            "web",
            "http",
            Status.HEALTHY,
            None,
            "https://web.example.test/",
            {"24h": 1.0, "7d": 0.999, "30d": 0.99, "90d": 0.98},
            days,
            tuple(float(i % 5 * 10) for i in range(24)),
        ),
        ServiceView(
            LONG,
            "docker",
            Status.DOWN,
            "exited (code 137) " + "x" * 200,
            LONG,
            {"24h": 0.5, "7d": None, "30d": None, "90d": None},
            days,
            (),
            (Incident(NOW - 600, None, "exited (code 137)"),),
        ),
    )
    return StatusSnapshot("Status of vps1", NOW, NOW - 3, services, HostView(5.0, 50.0, 90.0, 4))


@pytest.fixture(scope="module")
def page_url() -> Iterator[str]:
    html = page.render(_snapshot()).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(html)))
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    session = Browser(tmp_path_factory.mktemp("chromium"))
    yield session
    session.close()


@pytest.mark.parametrize(("width", "dark"), [(375, False), (375, True), (1280, False)])
def test_page_loads_cleanly_without_sideways_scroll(
    browser: Browser, page_url: str, tmp_path: Path, width: int, dark: bool
) -> None:
    browser.open(page_url, width=width, dark=dark)
    assert browser.console_errors() == []
    assert browser.horizontal_overflow() <= 0
    banner = browser.driver.find_element("css selector", ".banner")
    assert banner.text == "Some services are failing"
    browser.screenshot(tmp_path / f"status-{width}-{'dark' if dark else 'light'}.png")
