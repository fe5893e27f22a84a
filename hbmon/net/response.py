"""Reading a response's status line and header block without http.client's email parser.

`http.client.parse_headers` runs the email package's feed parser, which was about half of the
CPU of a keep-alive probe. `WireResponse.begin` reads the same lines under the same limits and
sets the attributes (length, chunked, will_close) from which `HTTPResponse` reads the body.
"""

from __future__ import annotations

import http.client
import re
import socket
from io import BufferedReader

Fields = list[tuple[str, str]]

# http.client's limits: a hostile server cannot make a response read unbounded headers.
MAX_LINE = 65536
MAX_HEADERS = 100  # lines, counting the blank line that ends the block
# email.feedparser's notion of a field name: visible characters but ':'.
_NAME = re.compile(rb"[\x21-\x39\x3b-\x7e]*")
# A whole line holding one well-formed field; the value cannot start with a blank, so that no
# input makes the two neighbouring repeats backtrack.
_FIELD = re.compile(r"^([!-9;-~]+):[ \t]*((?:[^ \t\r\n][^\r\n]*)?)\r?\n", re.MULTILINE)
_END = (b"\r\n", b"\n", b"")
_BLANK = b" \t"


class WireResponse(http.client.HTTPResponse):
    """An `HTTPResponse` whose header fields are parsed by `parse_fields`; see the module doc."""

    def __init__(
        self,
        sock: socket.socket,
        debuglevel: int = 0,
        method: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(sock, debuglevel, method, url)
        self.fields: Fields = []
        self._bodiless = method == "HEAD"

    def begin(self) -> None:
        if self.headers is not None:
            return
        version, status, reason = _read_status(self.fp)
        # Interim replies (100 Continue, 103 Early Hints, ...) precede the real answer; http.client
        # skips only 100 and would report a 103 as final. 101 ends HTTP: it stays final.
        while 100 <= status < 200 and status != http.client.SWITCHING_PROTOCOLS:
            read_header_lines(self.fp)
            version, status, reason = _read_status(self.fp)
        self.code = self.status = status
        self.reason = reason.strip()
        self.version = _version(version)
        self.fields = parse_fields(read_header_lines(self.fp))
        self.headers = self.msg = _message(self.fields)
        self._frame(_first_values(self.fields))

    def getheaders(self) -> Fields:
        """The fields in order, duplicates kept; no email-parser round trip."""
        if self.headers is None:
            raise http.client.ResponseNotReady()
        return list(self.fields)

    def _frame(self, first: dict[str, str]) -> None:
        """http.client's rules for where the body ends and whether the connection stays open."""
        self.chunked = first.get("transfer-encoding", "").lower() == "chunked"
        self.chunk_left = None
        self.will_close = _will_close(self.version, first)
        self.length = None if self.chunked else _content_length(first.get("content-length"))
        if self.status in (204, 304) or self.status < 200 or self._bodiless:
            self.length = 0
        if not self.will_close and not self.chunked and self.length is None:
            self.will_close = True


def read_header_lines(fp: BufferedReader) -> list[bytes]:
    """The raw lines up to and including the blank one (or EOF), as `http.client` reads them."""
    lines: list[bytes] = []
    while True:
        line = fp.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise http.client.LineTooLong("header line")
        lines.append(line)
        if len(lines) > MAX_HEADERS:
            raise http.client.HTTPException(f"got more than {MAX_HEADERS} headers")
        if line in _END:
            return lines


def parse_fields(lines: list[bytes]) -> Fields:
    """Header fields as (name, value) pairs, decoded as ISO-8859-1 like `http.client` does.

    Matches `http.client.parse_headers` field for field, malformed lines included (the email
    parser takes a line that is not a field for the start of a body and ignores the rest),
    except that an obsolete folded line is joined with one space (RFC 9112, 5.2) instead of
    keeping the CRLF inside the value.
    """
    text = b"".join(lines).decode("latin-1")
    fields: Fields = _FIELD.findall(text)
    if len(fields) == len(lines) - 1:
        return fields  # every line but the last (blank, or EOF) is one plain field
    return _parse_odd_fields(lines)


def _parse_odd_fields(lines: list[bytes]) -> Fields:
    fields: Fields = []
    folds = False  # whether a continuation line may extend the last field
    # Like the email parser, a bare CR also ends a line.
    for line in b"".join(lines).splitlines():
        if not line:
            break
        if line[0] in _BLANK:
            if folds:
                last, joined = fields[-1]
                fields[-1] = (last, joined + " " + line.lstrip(_BLANK).decode("latin-1"))
            continue
        if line.startswith(b"From "):  # an mbox envelope line to the email parser: dropped
            folds = False
            continue
        name, colon, value = line.partition(b":")
        if not colon or _NAME.fullmatch(name) is None:
            break
        folds = bool(name)
        if folds:
            fields.append((name.decode("latin-1"), value.lstrip(_BLANK).decode("latin-1")))
    return fields


def _read_status(fp: BufferedReader) -> tuple[str, int, str]:
    raw = fp.readline(MAX_LINE + 1)
    if len(raw) > MAX_LINE:
        raise http.client.LineTooLong("status line")
    if not raw:
        raise http.client.RemoteDisconnected("Remote end closed connection without response")
    line = raw.decode("latin-1")
    parts = line.split(None, 2)
    version = parts[0] if len(parts) > 1 else ""
    if not version.startswith("HTTP/"):
        raise http.client.BadStatusLine(line)
    try:
        status = int(parts[1])
    except ValueError:
        raise http.client.BadStatusLine(line) from None
    if not 100 <= status <= 999:
        raise http.client.BadStatusLine(line)
    return version, status, parts[2] if len(parts) > 2 else ""


def _version(version: str) -> int:
    if version in ("HTTP/1.0", "HTTP/0.9"):
        return 10
    if version.startswith("HTTP/1."):
        return 11
    raise http.client.UnknownProtocol(version)


def _first_values(fields: Fields) -> dict[str, str]:
    """Lower-case name -> first value, which is what `Message.get` answers."""
    return {name.lower(): value for name, value in reversed(fields)}


def _content_length(value: str | None) -> int | None:
    """The declared length; absent, unparsable or negative means none (read to the close)."""
    try:
        length = int(value or "")
    except ValueError:
        return None
    return length if length >= 0 else None


def _will_close(version: int, first: dict[str, str]) -> bool:
    connection = first.get("connection", "").lower()
    if version == 11:
        return "close" in connection
    if first.get("keep-alive") or "keep-alive" in connection:
        return False
    return "keep-alive" not in first.get("proxy-connection", "").lower()


def _message(fields: Fields) -> http.client.HTTPMessage:
    """The `HTTPMessage` that `getheader` and `info` answer from, without parsing it again."""
    message = http.client.HTTPMessage()
    for name, value in fields:
        message[name] = value
    return message
