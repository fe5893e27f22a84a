"""A real Prometheus server (Debian's) scrapes a real exporter and answers queries about it."""

from __future__ import annotations

import json
import subprocess
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require_tool
from tests.exporter.test_exporter_process import exporter_env, get, start, stop
from tests.support import StatusServer, free_port, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def server() -> Iterator[StatusServer]:
    running = StatusServer(200)
    yield running
    running.close()


def start_prometheus(tmp_path: Path, target: str) -> tuple[subprocess.Popen[bytes], str]:
    binary = require_tool("prometheus")
    listen = f"127.0.0.1:{free_port()}"
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: heartbeat\n    static_configs: [{{targets: ['{target}']}}]\n"
    )
    with (tmp_path / "prometheus.log").open("ab") as log:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address={listen}",
            ],
            stdout=log,
            stderr=log,
        )
    return process, f"http://{listen}"


def instant(prometheus: str, expr: str) -> list[dict[str, object]]:
    status, body = get(f"{prometheus}/api/v1/query?query={urllib.parse.quote(expr)}")
    if status != 200:
        return []
    return list(json.loads(body)["data"]["result"])


def test_prometheus_scrapes_service_up_for_each_service(
    tmp_path: Path, server: StatusServer
) -> None:
    env = exporter_env(
        tmp_path, server, SERVICE_URL_web=server.url, SERVICE_URL_db="docker:absent-container"
    )
    exporter = start(tmp_path, env)
    prometheus, url = start_prometheus(tmp_path, env["EXPORTER_LISTEN"])
    try:
        result = wait_for(
            lambda: (found := instant(url, "heartbeat_service_up")) and len(found) == 2 and found,
            timeout=60,
            interval=0.5,
        )
    finally:
        stop(prometheus)
        stop(exporter)
    by_service = {r["metric"]["service"]: r["value"][1] for r in result}  # type: ignore[index]
    assert by_service == {"web": "1", "db": "0"}
