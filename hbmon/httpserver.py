"""The small HTTP endpoint both processes serve: `/metrics`, `/healthz` and optional routes."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socket import AF_INET6

from prometheus_client import CONTENT_TYPE_LATEST

from hbmon.envconfig import ListenAddress

# healthy, and a text detail or a mapping answered as JSON
HealthCheck = Callable[[], tuple[bool, str | Mapping[str, object]]]
Render = Callable[[], bytes]
Response = tuple[HTTPStatus, bytes, str]  # status, body, content type
Routes = Callable[[str], Response | None]  # None: not one of these routes


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    render: Render
    health: HealthCheck
    routes: Routes | None


class _V6Server(_Server):
    address_family = AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._send(HTTPStatus.OK, self.server.render(), CONTENT_TYPE_LATEST)
        elif path == "/healthz":
            self._send(*_health_response(*self.server.health()))
        elif self.server.routes is not None and (found := self.server.routes(path)) is not None:
            self._send(*found)
        else:
            self._send(HTTPStatus.NOT_FOUND, b"not found: try /metrics or /healthz\n", "text/plain")

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Scrapes are not events worth a log line."""


def _health_response(healthy: bool, detail: str | Mapping[str, object]) -> Response:
    status = HTTPStatus.OK if healthy else HTTPStatus.SERVICE_UNAVAILABLE
    if isinstance(detail, str):
        return status, (detail + "\n").encode(), "text/plain; charset=utf-8"
    return status, (json.dumps(detail) + "\n").encode(), "application/json"


def serve(
    listen: ListenAddress, render: Render, health: HealthCheck, routes: Routes | None = None
) -> _Server:
    """Bind (raising OSError when the address is taken) and serve on a daemon thread."""
    server_class = _V6Server if ":" in listen.host else _Server
    server = server_class((listen.host, listen.port), _Handler)
    server.render = render
    server.health = health
    server.routes = routes
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    return server
