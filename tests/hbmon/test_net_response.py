"""Response parsing: the same fields and framing as http.client, under the same limits."""

from __future__ import annotations

import http.client
import io
import socket
import time
from collections.abc import Iterator
from typing import cast

import pytest

from hbmon.net.client import HttpClient
from hbmon.net.reply import ErrorKind
from hbmon.net.response import MAX_HEADERS, MAX_LINE, WireResponse, parse_fields, read_header_lines
from hbmon.netpolicy import NetPolicy
from tests.netservers import Behaviour, Handler, serve

NGINX = (
    b"Server: nginx/1.22.1\r\nDate: Sat, 28 Nov 2026 05:40:00 GMT\r\n"
    b"Content-Type: text/plain\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\n"
)

# Header blocks on which our fields must equal http.client's (email parser) field for field.
SAME_AS_HTTP_CLIENT = {
    "nginx": NGINX,
    "lf_line_endings": b"A: 1\nB: 2\n\n",
    "duplicates_in_order": b"Set-Cookie: a=1\r\nX: y\r\nset-cookie: b=2\r\n\r\n",
    "empty_and_blank_values": b"Empty:\r\nBlank:   \r\nTabbed:\t\tv \r\n\r\n",
    "colon_in_value": b"Location: http://h:8080/a?b=c:d\r\n\r\n",
    "latin1_value": b"X-Name: caf\xe9\r\n\r\n",
    "no_space_after_colon": b"A:1\r\n\r\n",
    "line_without_colon_hides_the_rest": b"A: 1\r\nnot a field\r\nB: 2\r\n\r\n",
    "name_with_space_hides_the_rest": b"A: 1\r\nBad Name: x\r\nB: 2\r\n\r\n",
    "empty_name_is_skipped": b"A: 1\r\n: x\r\nB: 2\r\n\r\n",
    "envelope_line_is_dropped": b"From nowhere\r\nA: 1\r\n\r\n",
    "first_line_continuation_is_dropped": b" lost\r\nA: 1\r\n\r\n",
    "bare_cr_ends_a_line": b"A: 1\rB: 2\r\n\r\n",
    "eof_without_blank_line": b"A: 1\r\nB: 2\r\n",
    "no_fields": b"\r\n",
}


def _lines(block: bytes) -> list[bytes]:
    return read_header_lines(io.BufferedReader(io.BytesIO(block)))


@pytest.mark.parametrize("block", SAME_AS_HTTP_CLIENT.values(), ids=SAME_AS_HTTP_CLIENT.keys())
def test_fields_are_those_http_client_parses(block: bytes) -> None:
    expected = http.client.parse_headers(io.BufferedReader(io.BytesIO(block))).items()
    assert parse_fields(_lines(block)) == expected


def test_obsolete_folded_line_joins_the_value_with_one_space() -> None:
    block = b"X-Long: first\r\n  second\r\n\tthird\r\nB: 2\r\n\r\n"
    assert parse_fields(_lines(block)) == [("X-Long", "first second third"), ("B", "2")]


def test_header_line_longer_than_the_limit_is_refused() -> None:
    block = b"X: " + b"a" * MAX_LINE + b"\r\n\r\n"
    with pytest.raises(http.client.LineTooLong):
        _lines(block)


def test_header_count_limit_is_http_clients() -> None:
    fits = b"X: 1\r\n" * (MAX_HEADERS - 1) + b"\r\n"
    assert len(parse_fields(_lines(fits))) == MAX_HEADERS - 1
    with pytest.raises(http.client.HTTPException, match="more than 100 headers"):
        _lines(b"X: 1\r\n" * MAX_HEADERS + b"\r\n")


class _Wire:
    """The one socket method an HTTPResponse calls, serving canned bytes."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(io.BytesIO(self.data))


def _outcome(kind: type[http.client.HTTPResponse], raw: bytes, method: str) -> object:
    response = kind(cast(socket.socket, _Wire(raw)), method=method)
    try:
        response.begin()
        body = response.read(1024)
    except (http.client.HTTPException, ValueError) as exc:
        return type(exc)
    framing = (response.chunked, response.length, response.will_close, response.isclosed())
    return (response.version, response.status, response.reason, framing, body)


RESPONSES = {
    "keep_alive": (b"HTTP/1.1 200 OK\r\n" + NGINX + b"ok\n", "GET"),
    "no_reason": (b"HTTP/1.1 204\r\n\r\n", "GET"),
    "reason_with_spaces": (
        b"HTTP/1.1 503 Service  Unavailable \r\nContent-Length: 0\r\n\r\n",
        "GET",
    ),
    "connection_close": (
        b"HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 2\r\n\r\nok",
        "GET",
    ),
    "no_length_reads_to_eof": (b"HTTP/1.1 200 OK\r\n\r\nuntil eof", "GET"),
    "negative_length": (b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\nbody", "GET"),
    "bad_length": (b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\nbody", "GET"),
    "first_length_wins": (
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 3\r\n\r\nabc",
        "GET",
    ),
    "chunked": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\nContent-Length: 99\r\n\r\n"
        b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: x\r\n\r\n",
        "GET",
    ),
    "bad_chunk_size": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "GET"),
    "head_has_no_body": (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", "HEAD"),
    "not_modified": (b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", "GET"),
    "continue_is_skipped": (
        b"HTTP/1.1 100 Continue\r\nX: 1\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        "POST",
    ),
    "http10_closes": (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", "GET"),
    "http10_keep_alive": (
        b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok",
        "GET",
    ),
    "http10_keep_alive_header": (
        b"HTTP/1.0 200 OK\r\nKeep-Alive: 5\r\nContent-Length: 0\r\n\r\n",
        "GET",
    ),
    "http10_proxy_connection": (
        b"HTTP/1.0 200 OK\r\nProxy-Connection: keep-alive\r\nContent-Length: 0\r\n\r\n",
        "GET",
    ),
    "http09_is_10": (b"HTTP/0.9 200 OK\r\nContent-Length: 0\r\n\r\n", "GET"),
    "lf_only": (b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok", "GET"),
    "status_plus_sign": (b"HTTP/1.1 +200 OK\r\nContent-Length: 0\r\n\r\n", "GET"),
    "empty_reply": (b"", "GET"),
    "not_http": (b"SSH-2.0-OpenSSH_9.2\r\n", "GET"),
    "status_not_a_number": (b"HTTP/1.1 abc OK\r\n\r\n", "GET"),
    "status_too_small": (b"HTTP/1.1 99 OK\r\n\r\n", "GET"),
    "status_too_large": (b"HTTP/1.1 1000 OK\r\n\r\n", "GET"),
    "version_only": (b"HTTP/1.1\r\n\r\n", "GET"),
    "blank_status_line": (b"\r\n", "GET"),
    "http2": (b"HTTP/2.0 200 OK\r\n\r\n", "GET"),
    "status_line_too_long": (b"HTTP/1.1 200 " + b"x" * MAX_LINE + b"\r\n\r\n", "GET"),
    "too_many_headers": (b"HTTP/1.1 200 OK\r\n" + b"X: 1\r\n" * MAX_HEADERS + b"\r\n", "GET"),
    "too_many_in_continue": (
        b"HTTP/1.1 100 Continue\r\n" + b"X: 1\r\n" * MAX_HEADERS + b"\r\n",
        "GET",
    ),
}


@pytest.mark.parametrize(("raw", "method"), RESPONSES.values(), ids=RESPONSES.keys())
def test_status_framing_and_body_are_those_of_http_client(raw: bytes, method: str) -> None:
    assert _outcome(WireResponse, raw, method) == _outcome(http.client.HTTPResponse, raw, method)


def test_getheaders_and_getheader_answer_from_the_parsed_fields() -> None:
    raw = b"HTTP/1.1 200 OK\r\nX: 1\r\nx: 2\r\nContent-Length: 0\r\n\r\n"
    response = WireResponse(cast(socket.socket, _Wire(raw)), method="GET")
    with pytest.raises(http.client.ResponseNotReady):
        response.getheaders()
    response.begin()
    assert response.getheaders() == [("X", "1"), ("x", "2"), ("Content-Length", "0")]
    assert response.getheader("X") == "1, 2"


# Through the client, against a loopback server that writes raw bytes.


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
        b"HTTP/1.1 200 OK\r\nX: " + b"a" * MAX_LINE + b"\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n" + b"X: 1\r\n" * MAX_HEADERS + b"\r\n",
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


def test_early_hints_are_skipped_like_100_continue() -> None:
    raw = (
        b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    )
    response = WireResponse(cast(socket.socket, _Wire(raw)), method="GET")
    response.begin()
    assert (response.status, response.read()) == (200, b"ok")
