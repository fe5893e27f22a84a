"""Request encoding: the bytes http.client would write, refused where http.client refuses."""

from __future__ import annotations

import http.client
import socket
from typing import cast

import pytest

from hbmon.net.request import encode_request

Fields = list[tuple[str, str]]


class _Recorder:
    """The one socket method HTTPConnection calls to write, keeping what it was given."""

    def __init__(self) -> None:
        self.sent = b""

    def sendall(self, data: bytes) -> None:
        self.sent += data


def _http_client_bytes(method: str, target: str, fields: Fields, body: bytes | None) -> bytes:
    recorder = _Recorder()
    channel = http.client.HTTPConnection("127.0.0.1")
    channel.sock = cast(socket.socket, recorder)
    channel.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
    for name, value in fields:
        channel.putheader(name, value)
    channel.endheaders(body)
    return recorder.sent


REQUESTS: dict[str, tuple[str, str, Fields, bytes | None]] = {
    "get": ("GET", "/health?x=1", [("Host", "svc"), ("User-Agent", "hbmon/1")], None),
    "post_with_body": (
        "POST",
        "/hook",
        [("Host", "h:8080"), ("Content-Type", "application/json"), ("Content-Length", "2")],
        b"{}",
    ),
    "no_fields": ("HEAD", "/", [], None),
    "empty_body": ("POST", "/", [("Content-Length", "0")], b""),
    "latin1_value": ("GET", "/", [("X-Name", "caf\xe9")], None),
    "folded_value_is_allowed": ("GET", "/", [("X", "a\r\n b")], None),
}


@pytest.mark.parametrize(
    ("method", "target", "fields", "body"), REQUESTS.values(), ids=REQUESTS.keys()
)
def test_bytes_are_those_http_client_writes(
    method: str, target: str, fields: Fields, body: bytes | None
) -> None:
    expected = _http_client_bytes(method, target, fields, body)
    assert encode_request(method, target, fields, body) == expected


REFUSED: dict[str, tuple[str, str, Fields, type[Exception]]] = {
    "control_in_method": ("GE\nT", "/", [], ValueError),
    "space_in_target": ("GET", "/a b", [], http.client.InvalidURL),
    "newline_in_target": ("GET", "/a\r\nX: y", [], http.client.InvalidURL),
    "non_ascii_target": ("GET", "/caf\xe9", [], UnicodeEncodeError),
    "newline_in_value": ("GET", "/", [("X", "a\r\nInjected: 1")], ValueError),
    "bare_cr_in_value": ("GET", "/", [("X", "a\rb")], ValueError),
    "colon_in_name": ("GET", "/", [("X:Y", "1")], ValueError),
    "space_first_in_name": ("GET", "/", [(" X", "1")], ValueError),
    "empty_name": ("GET", "/", [("", "1")], ValueError),
    "non_ascii_name": ("GET", "/", [("\xe9", "1")], UnicodeEncodeError),
    "non_latin1_value": ("GET", "/", [("X", "\u20ac")], UnicodeEncodeError),
}


@pytest.mark.parametrize(
    ("method", "target", "fields", "error"), REFUSED.values(), ids=REFUSED.keys()
)
def test_injection_is_refused_like_http_client_does(
    method: str, target: str, fields: Fields, error: type[Exception]
) -> None:
    with pytest.raises(error):
        _http_client_bytes(method, target, fields, None)
    with pytest.raises(error):
        encode_request(method, target, fields, None)


def test_refusal_never_echoes_a_header_value() -> None:
    with pytest.raises(ValueError) as caught:
        encode_request("GET", "/", [("Authorization", "Bearer s3cret\r\n")], None)
    assert "s3cret" not in str(caught.value)
