"""The alerter's narrow HTTP seam: POST bytes, get a Reply; never raises on network errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from hbmon.net.client import HttpClient
from hbmon.net.policy import NetPolicy
from hbmon.net.reply import ErrorKind

MAX_REPLY_BYTES = 4096


@dataclass(frozen=True)
class Reply:
    """An HTTP answer (`status` set) or a failure to get one (`error` set)."""

    status: int | None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    error: str | None = None  # "timeout: ..." / "connection: ..." when no answer came
    elapsed: float = 0.0


class Transport(Protocol):
    def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> Reply: ...

    def close(self) -> None: ...


class HttpClientTransport:
    """The project's HttpClient (libcurl): IP family policy, total budget, capped body, no
    proxies. A few transfers at a time and a couple of idle connections are all it needs."""

    def __init__(self, policy: NetPolicy) -> None:
        self._client = HttpClient(
            policy, max_body_bytes=MAX_REPLY_BYTES, max_transfers=8, max_connects=4
        )

    def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> Reply:
        reply = self._client.request(
            url,
            method="POST",
            headers=tuple(headers.items()),
            body=body,
            timeout=timeout,
            follow_redirects=False,
        )
        error = None
        if reply.error is not None:
            kind = "timeout" if reply.error.kind is ErrorKind.TIMEOUT else "connection"
            error = f"{kind}: {reply.error.kind.value}: {reply.error.reason}"
        return Reply(
            None if error is not None else reply.status_code,
            headers={k.lower(): v for k, v in reply.headers},
            body=reply.body,
            error=error,
            elapsed=reply.elapsed_s,
        )

    def close(self) -> None:
        self._client.close()
