"""Response framing through the client, against loopback servers that write raw bytes."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from hbmon.net.client import HttpClient
from hbmon.net.policy import NetPolicy
from hbmon.net.reply import ErrorKind
from tests.netservers import Behaviour, Handler, serve


@pytest.fixture
def client() -> Iterator[HttpClient]:
    http = HttpClient(NetPolicy())
    yield http
    http.close()


def _raw(*answers: bytes, close: bool = False) -> Behaviour:
    """A behaviour answering each request on a connection with the next of `answers`."""

    def behaviour(handler: Handler) -> None:
        sent = getattr(handler, "sent", 0)
        handler.sent = sent + 1  # type: ignore[attr-defined]
        handler.wfile.write(answers[min(sent, len(answers) - 1)])
        handler.close_connection = close

    return behaviour


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nX: " + b"a" * 70000 + b"\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n" + b"X: 1\r\n" * 20000 + b"\r\n",
        b"HTTP/1.1 OK\r\n\r\n",
    ],
    ids=["oversized_header_line", "too_many_headers", "bad_status_line"],
)
def test_malformed_response_is_a_protocol_error_at_once(client: HttpClient, answer: bytes) -> None:
    with serve(_raw(answer)) as server:
        started = time.monotonic()
        reply = client.exchange(server.url(), timeout=5.0)
        elapsed = time.monotonic() - started
    assert reply.error is not None
    assert reply.error.kind is ErrorKind.PROTOCOL
    assert reply.error.reason.startswith("invalid HTTP response")
    assert elapsed < 2.0


def test_chunked_answers_are_read_whole_and_keep_the_connection(client: HttpClient) -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nheal\r\n3\r\nthy\r\n0\r\n\r\n"
    )
    with serve(_raw(chunked)) as server:
        replies = [client.exchange(server.url(), timeout=5.0) for _ in range(3)]
        connections = server.record.connections
    assert [(r.status_code, r.body) for r in replies] == [(200, b"healthy")] * 3
    assert [r.connection_reused for r in replies] == [False, True, True]
    assert connections == 1


def test_duplicate_and_folded_fields_reach_the_reply_in_order(client: HttpClient) -> None:
    answer = (
        b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 30\r\nX-Long: a\r\n b\r\n"
        b"Retry-After: 60\r\nContent-Length: 0\r\n\r\n"
    )
    with serve(_raw(answer)) as server:
        reply = client.exchange(server.url(), timeout=5.0)
    assert reply.status_code == 429
    assert reply.header("retry-after") == "30"
    assert reply.headers == (
        ("Retry-After", "30"),
        ("X-Long", "a b"),
        ("Retry-After", "60"),
        ("Content-Length", "0"),
    )


def test_interim_continue_answer_is_skipped(client: HttpClient) -> None:
    answer = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    with serve(_raw(answer)) as server:
        reply = client.request(server.url(), body=b"{}", timeout=5.0)
    assert (reply.status_code, reply.body, reply.error) == (200, b"ok", None)


def test_answer_without_length_is_read_to_close_and_not_reused(client: HttpClient) -> None:
    with serve(_raw(b"HTTP/1.1 200 OK\r\n\r\nuntil close", close=True)) as server:
        first = client.exchange(server.url(), timeout=5.0)
        second = client.exchange(server.url(), timeout=5.0)
        connections = server.record.connections
    assert (first.body, second.body) == (b"until close", b"until close")
    assert not second.connection_reused
    assert connections == 2
