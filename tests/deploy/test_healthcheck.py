"""The images' health check finds /healthz on loopback from any listen address."""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType

import pytest

from tests.deploy.conftest import DEPLOY


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("healthcheck", DEPLOY / "docker/healthcheck.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


healthcheck = _load()


@pytest.mark.parametrize(
    ("listen", "url"),
    [
        ("0.0.0.0:9877", "http://127.0.0.1:9877/healthz"),
        (":9878", "http://127.0.0.1:9878/healthz"),
        ("127.0.0.1:40001", "http://127.0.0.1:40001/healthz"),
        ("[::]:9877", "http://[::1]:9877/healthz"),
        ("[::1]:9877", "http://[::1]:9877/healthz"),
        ("10.1.2.3:9877", "http://10.1.2.3:9877/healthz"),
    ],
)
def test_listen_address_maps_to_a_loopback_healthz_url(listen: str, url: str) -> None:
    assert healthcheck.healthz_url(listen) == url


@pytest.fixture
def healthz_server() -> Iterator[tuple[ThreadingHTTPServer, list[int]]]:
    answer = [200]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(answer[0] if self.path == "/healthz" else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, answer
    server.shutdown()
    server.server_close()


def test_exit_status_follows_healthz(
    healthz_server: tuple[ThreadingHTTPServer, list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, answer = healthz_server
    monkeypatch.setenv("TEST_LISTEN", f"0.0.0.0:{server.server_address[1]}")
    assert healthcheck.main(["TEST_LISTEN", "0.0.0.0:1"]) == 0
    answer[0] = 503
    assert healthcheck.main(["TEST_LISTEN", "0.0.0.0:1"]) == 1
    server.shutdown()
    server.server_close()
    assert healthcheck.main(["TEST_LISTEN", "0.0.0.0:1"]) == 1


def test_default_listen_is_used_when_the_variable_is_unset(
    healthz_server: tuple[ThreadingHTTPServer, list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, _ = healthz_server
    monkeypatch.delenv("TEST_LISTEN", raising=False)
    assert healthcheck.main(["TEST_LISTEN", f"127.0.0.1:{server.server_address[1]}"]) == 0
