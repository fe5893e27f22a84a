"""Small helpers for tests: free ports and waiting for conditions without fixed sleeps."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def free_port(host: str = "127.0.0.1") -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for(check: Callable[[], T | None], *, timeout: float, interval: float = 0.05) -> T:
    """Poll `check` until it returns something truthy; fail with the last value otherwise."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")


class StatusServer:
    """A real HTTP server on 127.0.0.1 whose answer (status code) tests can switch."""

    def __init__(self, status: int = 200) -> None:
        import http.server
        import threading

        owner = self
        self.status = status
        self.hits = 0
        self.hit_times: list[float] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                owner.hits += 1
                owner.hit_times.append(time.time())
                body = b"ok\n" if owner.status < 400 else b"failing\n"
                self.send_response(owner.status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_HEAD = do_GET

            def log_message(self, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}/"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def base_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A minimal, explicit environment for a real process: nothing leaks in from the host."""
    import os
    import sys

    scripts = str(Path(sys.executable).parent)  # the venv's bin: heartbeat-exporter lives there
    env = {
        "PATH": scripts + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "LOG_FORMAT": "json",
        "SQLITE_DB_PATH": str(tmp_path / "metrics.db"),
    }
    for key in ("DOCKER_HOST",):
        if key in os.environ:
            env[key] = os.environ[key]
    env.update(extra)
    return env


def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run one of our console scripts to completion, as a user would, capturing its output."""
    return subprocess.run(
        args, env=env, cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
