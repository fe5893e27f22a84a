"""The status page of a real `heartbeat-exporter` in real Chromium, with real local services."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from exporter.statuspage import svg
from hbmon.status import FAILURE_STATUSES
from tests.browser import Browser
from tests.exporter.test_exporter_process import start, stop
from tests.support import StatusServer, base_env, free_port, wait_for

pytestmark = pytest.mark.slow
SERVICES = ("api", "web")


class Running:
    """The exporter process and the services it probes."""

    def __init__(self, tmp_path: Path) -> None:
        self.servers = {name: StatusServer(200) for name in (*SERVICES, "ping")}
        self.db = tmp_path / "metrics.db"
        listen = f"127.0.0.1:{free_port()}"
        env = base_env(
            tmp_path,
            LOOP_INTERVAL_SECONDS="2",
            SERVICE_TIMEOUT_SECONDS="0.5",
            PING_URL=self.servers["ping"].url,
            EXPORTER_LISTEN=listen,
            DOCKER_HOST="unix:///nonexistent/docker.sock",
            STATUS_PAGE_TITLE="Status of the test host",
            **{f"SERVICE_URL_{name}": self.servers[name].url for name in SERVICES},
        )
        self.url = f"http://{listen}/"
        self.process = start(tmp_path, env)

    def checks(self) -> dict[str, tuple[int, int]]:
        """Service -> (checks, failures) in the database: what the 24 h uptime must say."""
        with sqlite3.connect(self.db, timeout=10) as conn:
            rows = conn.execute(
                "SELECT service_name, status, count(*) FROM service_checks GROUP BY 1, 2"
            ).fetchall()
        found: dict[str, tuple[int, int]] = {}
        for name, status, count in rows:
            checks, failures = found.get(name, (0, 0))
            found[name] = (checks + count, failures + count * (status in FAILURE_STATUSES))
        return found

    def wait_for_checks(self, name: str, at_least: int, failures: int = 0) -> None:
        def enough() -> bool:
            if not self.db.exists():
                return False
            try:
                checks, failed = self.checks().get(name, (0, 0))
            except sqlite3.OperationalError:
                return False
            return checks >= at_least and failed >= failures

        wait_for(enough, timeout=60, interval=0.2)

    def close(self) -> None:
        stop(self.process)
        for server in self.servers.values():
            server.close()


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    exporter = Running(tmp_path)
    yield exporter
    exporter.close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    session = Browser(tmp_path / "chromium")
    yield session
    session.close()


def uptime_shown(browser: Browser, name: str) -> str:
    cell = f'article[data-service="{name}"] .uptime div b'
    return str(browser.driver.find_elements("css selector", cell)[0].text)


def today_tooltip(browser: Browser, name: str) -> str:
    titles = browser.driver.find_elements(
        "css selector", f'article[data-service="{name}"] svg.days rect title'
    )
    return str(titles[-1].get_attribute("textContent"))


def check_page(browser: Browser, running: Running, width: int) -> None:
    """Loads the page and compares each service's 24 h uptime with the database."""
    before = running.checks()
    browser.open(running.url, width=width)
    after = running.checks()
    assert browser.console_errors() == []
    assert browser.horizontal_overflow() <= 0
    for name in SERVICES:
        possible = {svg.percent((c - f) / c) for c, f in (before[name], after[name])}
        assert uptime_shown(browser, name) in possible, (name, before, after)


def test_page_follows_the_database_and_changes_when_a_service_goes_down(
    running: Running, browser: Browser, tmp_path: Path
) -> None:
    running.wait_for_checks("api", 3)
    check_page(browser, running, 1280)
    banner = browser.driver.find_element("css selector", ".banner")
    assert banner.text == "All systems operational"
    assert ", 0 failed)" in today_tooltip(browser, "api")
    cards = browser.driver.find_elements("css selector", "article.service")
    assert [c.get_attribute("data-service") for c in cards] == list(SERVICES)
    assert all(c.get_attribute("data-status") == "healthy" for c in cards)

    running.servers["api"].status = 503
    running.wait_for_checks("api", 5, failures=2)
    for width in (1280, 375):
        check_page(browser, running, width)
        browser.screenshot(tmp_path / f"status-down-{width}.png")
    assert browser.driver.find_element("css selector", ".banner").text == (
        "Some services are failing"
    )
    api = browser.driver.find_element("css selector", 'article[data-service="api"]')
    assert api.get_attribute("data-status") == "error"
    assert "HTTP 503" in api.text
    assert ", 0 failed)" not in today_tooltip(browser, "api")
    assert ", 0 failed)" in today_tooltip(browser, "web")
    assert running.process.poll() is None
