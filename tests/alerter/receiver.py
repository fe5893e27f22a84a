"""A real HTTP receiver on 127.0.0.1:0 for tests: records requests, answers as scripted."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.time() when the body was read

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    hang: float = 0.0  # seconds to wait before answering (a "hanging" webhook)


Script = Callable[[Received], Answer]


class Receiver:
    """Thread-safe record of what arrived; `script` decides each answer."""

    def __init__(self, script: Script | None = None) -> None:
        self.script: Script = script or (lambda _r: Answer())
        self.lock = threading.Lock()
        self.requests: list[Received] = []  # every request, answered or not
        self.accepted: list[Received] = []  # requests answered with 2xx
        self.release = threading.Event()
        self.url = ""

    def bodies(self) -> list[Any]:
        with self.lock:
            return [r.json() for r in self.accepted]

    def all_requests(self) -> list[Received]:
        with self.lock:
            return list(self.requests)


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else headers and body wait out a delayed ACK (40 ms)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            got = Received(
                self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.time()
            )
            with receiver.lock:
                receiver.requests.append(got)
            answer = receiver.script(got)
            if answer.hang:
                receiver.release.wait(answer.hang)
            if 200 <= answer.status < 300:
                with receiver.lock:
                    receiver.accepted.append(got)
            try:
                self.send_response(answer.status)
                for key, value in answer.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)
            except OSError:
                pass  # the client gave up (timeout): that is what the test wanted

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@contextmanager
def receiving(script: Script | None = None, path: str = "/hook/s3cr3t-token") -> Iterator[Receiver]:
    receiver = Receiver(script)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}{path}"
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
