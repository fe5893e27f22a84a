"""A real Alertmanager (Debian's prometheus-alertmanager) on loopback ports, alone or clustered."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

from tests.support import free_port, wait_for


def webhook_config(path: Path, webhook: str) -> Path:
    """An Alertmanager configuration notifying `webhook` within about a second, once an hour."""
    path.write_text(
        "route:\n"
        "  receiver: hook\n  group_by: [host]\n"
        "  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\n"
        "receivers:\n"
        f"  - name: hook\n    webhook_configs:\n      - url: {webhook}\n"
        "        send_resolved: false\n"
    )
    return path


def cluster(binary: str, config: Path, workdir: Path, size: int = 2) -> list[Alertmanager]:
    """`size` nodes gossiping on 127.0.0.1."""
    addresses = [f"127.0.0.1:{free_port()}" for _ in range(size)]
    return [
        Alertmanager(
            binary,
            config,
            workdir / f"am{i}",
            cluster_address=address,
            peers=tuple(a for a in addresses if a != address),
        )
        for i, address in enumerate(addresses)
    ]


class Alertmanager:
    """One node; a `cluster_address` (and the other nodes' as `peers`) makes it gossip."""

    def __init__(
        self,
        binary: str,
        config: Path,
        workdir: Path,
        *,
        cluster_address: str | None = None,
        peers: tuple[str, ...] = (),
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / "alertmanager.log"
        args = [
            binary,
            f"--config.file={config}",
            f"--storage.path={workdir}",
            f"--web.listen-address=127.0.0.1:{self.port}",
        ]
        args += self._cluster_args(cluster_address, peers)
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        wait_for(self._ready, timeout=30)

    @staticmethod
    def _cluster_args(address: str | None, peers: tuple[str, ...]) -> list[str]:
        if address is None:
            return ["--cluster.listen-address="]
        return [
            f"--cluster.listen-address={address}",
            f"--cluster.advertise-address={address}",
            "--cluster.peer-timeout=2s",
            "--cluster.gossip-interval=100ms",
            "--cluster.pushpull-interval=1s",
            *(f"--cluster.peer={p}" for p in peers),
        ]

    def _ready(self) -> bool:
        if self._process.poll() is not None:
            raise AssertionError(f"alertmanager exited: {self.log_path.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(self.url + "/-/ready", timeout=2) as reply:
                return bool(reply.status == 200)
        except OSError:
            return False

    def post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        request = urllib.request.Request(
            self.url + "/api/v2/alerts",
            data=json.dumps(alerts).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as reply:
            assert reply.status == 200

    def alerts(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(self.url + "/api/v2/alerts", timeout=5) as reply:
            result: list[dict[str, Any]] = json.load(reply)
            return result

    def active(self) -> list[dict[str, Any]]:
        return [a for a in self.alerts() if a["status"]["state"] == "active"]

    def stop(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=10)
