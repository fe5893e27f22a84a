"""Every dashboard query against a real Prometheus scraping a real exporter and alerter.

Each query must parse, and must return data whenever the metrics it names are exposed by this
run. The exporter probes a plain HTTP service, an HTTPS one (trustme certificate, so the expiry
metric exists) and a refused port (so the alerter delivers an alert to a local webhook).
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme

from tests.deploy.conftest import DEPLOY
from tests.deploy.dashboard import CONTRACT, Query, queries
from tests.support import free_port

pytestmark = pytest.mark.slow
SETTLE_SECONDS = 45.0  # upper bound for every contract metric to appear


class _Handler(BaseHTTPRequestHandler):
    """GET and POST both answer 200: a healthy service, PING_URL, webhook and heartbeat."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.do_GET()

    def log_message(self, format: str, *args: object) -> None:
        return


@dataclass
class _Server:
    server: ThreadingHTTPServer
    thread: threading.Thread

    @classmethod
    def start(cls, tls: ssl.SSLContext | None = None) -> _Server:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        if tls is not None:
            server.socket = tls.wrap_socket(server.socket, server_side=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        return cls(server, thread)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Live:
    """A Prometheus on 127.0.0.1 that scrapes the real processes, and what it has seen."""

    url: str
    present: frozenset[str]

    def query(self, expr: str) -> dict[str, Any]:
        data = urllib.parse.urlencode({"query": expr}).encode()
        request = urllib.request.Request(f"{self.url}/api/v1/query", data=data)
        try:
            with urllib.request.urlopen(request, timeout=10) as reply:
                return dict(json.load(reply))
        except urllib.error.HTTPError as error:  # 400 on a parse error, with the reason
            return dict(json.load(error))


def _need_console_scripts() -> None:
    for module in ("exporter.cli", "alerter.cli"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} does not exist yet: nothing to scrape")


def _spawn(module: str, env: dict[str, str], workdir: Path) -> subprocess.Popen[bytes]:
    log = (workdir / f"{module}.log").open("ab")
    with log:
        return subprocess.Popen(
            [sys.executable, "-m", module], env=env, cwd=workdir, stdout=log, stderr=log
        )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _base_env(workdir: Path, **extra: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(workdir),
        "LOG_FORMAT": "json",
        "SQLITE_DB_PATH": str(workdir / "metrics.db"),
        "LOOP_INTERVAL_SECONDS": "1",
    }
    if "DOCKER_HOST" in os.environ:
        env["DOCKER_HOST"] = os.environ["DOCKER_HOST"]
    env.update(extra)
    return env


def _prometheus_config(exporter: str, alerter: str) -> str:
    return f"""
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: ["{DEPLOY / "prometheus" / "rules.yml"}"]
scrape_configs:
  - job_name: heartbeat-exporter
    static_configs: [{{targets: ["{exporter}"], labels: {{host: dashboard-test}}}}]
  - job_name: heartbeat-alerter
    static_configs: [{{targets: ["{alerter}"], labels: {{host: dashboard-test}}}}]
"""


def _names_with_samples(live: Live) -> frozenset[str]:
    """Metric names with at least 3 samples in the last 10 s: enough for every 10 s rate window."""
    try:
        reply = live.query('{__name__=~"heartbeat_.+|up"}[10s]')
    except urllib.error.URLError:  # Prometheus is still starting
        return frozenset()
    if reply.get("status") != "success":
        return frozenset()
    series = reply["data"]["result"]
    return frozenset(s["metric"]["__name__"] for s in series if len(s["values"]) >= 3)


def _settle(live: Live, processes: list[subprocess.Popen[bytes]], workdir: Path) -> Live:
    """Wait until every contract metric has samples (or SETTLE_SECONDS pass); report what came."""
    deadline = time.monotonic() + SETTLE_SECONDS
    present: frozenset[str] = frozenset()
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                logs = "\n".join(p.read_text()[-2000:] for p in workdir.glob("*.log"))
                pytest.fail(f"{process.args!r} exited with {process.returncode}:\n{logs}")
        present = _names_with_samples(live)
        if CONTRACT - {"heartbeat_service_ip_family"} <= present:
            break
        time.sleep(0.5)
    return Live(live.url, present)


@pytest.fixture(scope="module")
def live(prometheus_binary: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    _need_console_scripts()
    workdir = tmp_path_factory.mktemp("dashboard")
    authority = trustme.CA()
    authority.cert_pem.write_to_path(str(workdir / "ca.pem"))
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(tls)
    plain, secure = _Server.start(), _Server.start(tls)
    exporter_at, alerter_at = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    local = f"http://127.0.0.1:{plain.port}"
    exporter = _spawn(
        "exporter",
        _base_env(
            workdir,
            EXPORTER_LISTEN=exporter_at,
            SERVICE_TIMEOUT_SECONDS="0.5",
            PING_URL=f"{local}/ping",
            HTTP_CA_BUNDLE=str(workdir / "ca.pem"),
            SERVICE_URL_web=f"{local}/",
            SERVICE_URL_secure=f"https://127.0.0.1:{secure.port}/",
            SERVICE_URL_broken=f"http://127.0.0.1:{free_port()}/",
        ),
        workdir,
    )
    alerter = _spawn(
        "alerter",
        _base_env(
            workdir,
            ALERTER_LISTEN=alerter_at,
            STATUS_CHANGE_THRESHOLD="2",
            N8N_WEBHOOK_URL=f"{local}/webhook",
            HEARTBEAT_URL=f"{local}/heartbeat",
            SECRET_KEY="dashboard-test-secret",
            HOST_LABEL="dashboard-test",
        ),
        workdir,
    )
    (workdir / "prometheus.yml").write_text(_prometheus_config(exporter_at, alerter_at))
    prometheus_at = f"127.0.0.1:{free_port()}"
    with (workdir / "prometheus.log").open("ab") as log:
        prometheus = subprocess.Popen(
            [
                prometheus_binary,
                f"--config.file={workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={workdir / 'tsdb'}",
                f"--web.listen-address={prometheus_at}",
            ],
            cwd=workdir,
            stdout=log,
            stderr=log,
        )
    processes = [exporter, alerter, prometheus]
    try:
        yield _settle(Live(f"http://{prometheus_at}", frozenset()), processes, workdir)
    finally:
        for process in reversed(processes):
            _stop(process)
        plain.close()
        secure.close()


@pytest.mark.parametrize("query", queries(), ids=lambda q: q.where)
def test_dashboard_query_parses_and_returns_data(live: Live, query: Query) -> None:
    reply = live.query(query.rendered())
    assert reply.get("status") == "success", f"{query.expr!r}: {reply.get('error')}"
    missing = query.metric_names() - live.present
    if missing:
        pytest.skip(f"not exposed in this run: {', '.join(sorted(missing))}")
    assert reply["data"]["result"], f"{query.rendered()!r} returned no data"


def test_shipped_alert_rules_load_and_stay_quiet_on_a_healthy_exporter(live: Live) -> None:
    rules = live.query("ALERTS")
    assert rules["status"] == "success"
    firing = {s["metric"]["alertname"] for s in rules["data"]["result"]}
    # `broken` is down on purpose; everything else is healthy and fresh.
    assert firing <= {"HeartbeatServiceDown"}, firing
