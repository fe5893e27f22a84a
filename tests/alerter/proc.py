"""Running the real `heartbeat-alerter` console script as a subprocess, as a user would."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support import free_port, wait_for

BIN = Path(sys.executable).parent
ALERTER = BIN / "heartbeat-alerter"
EXPORTER = BIN / "heartbeat-exporter"


def alerter_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """An explicit environment: nothing inherited from the host (proxies, stray variables)."""
    return {
        "HOME": str(tmp_path),
        "PATH": f"{BIN}:/usr/bin:/bin",
        "LOG_FORMAT": "json",
        "SQLITE_DB_PATH": str(tmp_path / "metrics.db"),
        "ALERTER_LISTEN": f"127.0.0.1:{free_port()}",
        "HOST_LABEL": "e2e",
        "ALERT_RETRY_BASE_SECONDS": "0.1",
        "ALERT_RETRY_MAX_SECONDS": "0.5",
        # Delivery and crash tests replay many down/up transitions of one item: no flapping
        # rule unless a test asks for it (tests/alerter/pair.py restores the default).
        "FLAP_CHANGES": "1000000",
        **extra,
    }


@dataclass
class Process:
    """One started process; its stderr (JSON log lines) goes to a file in tmp_path."""

    popen: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str]
    logs_seen: list[Path] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        host, _, port = self.env["ALERTER_LISTEN"].rpartition(":")
        return f"http://{host}:{port}"

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.base_url + path, timeout=5) as reply:
                return reply.status, reply.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def events(self) -> list[dict[str, Any]]:
        lines = self.log_path.read_text(errors="replace").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def wait_ready(self, timeout: float = 20) -> None:
        def ready() -> bool:
            assert self.popen.poll() is None, self.log_path.read_text()
            try:
                return self.get("/healthz")[0] == 200
            except OSError:
                return False

        wait_for(ready, timeout=timeout, interval=0.05)

    def terminate(self, timeout: float = 10) -> int:
        self.popen.send_signal(signal.SIGTERM)
        return self.popen.wait(timeout)

    def kill(self) -> None:
        self.popen.kill()
        self.popen.wait(10)


def start(
    tmp_path: Path,
    env: dict[str, str],
    *,
    program: Path = ALERTER,
    name: str = "alerter",
    args: tuple[str, ...] = (),
) -> Process:
    index = len(list(tmp_path.glob(f"{name}-*.log")))
    log_path = tmp_path / f"{name}-{index}.log"
    with log_path.open("wb") as log:
        popen = subprocess.Popen(
            [program, *args], env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT
        )
    return Process(popen, log_path, env)
