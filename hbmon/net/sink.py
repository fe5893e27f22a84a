"""What libcurl hands us of one response: status, header fields and a capped body, policed."""

from __future__ import annotations

# All header sections of one response together (interim 1xx answers and trailers included).
MAX_HEADER_BYTES = 64 * 1024
MAX_INTERIM = 8  # 1xx answers before the final one


class Sink:
    """Collects one response from libcurl's header and write callbacks.

    A callback returning 0 makes libcurl abort the transfer and close the connection: that is
    how the body cap, the header limits and the RFC 9112 framing rules libcurl tolerates are
    enforced in milliseconds instead of at the budget.
    """

    __slots__ = (
        "body",
        "cap",
        "complete",
        "header_bytes",
        "headers",
        "interim",
        "lines",
        "refused",
        "size",
        "status",
        "truncated",
        "version",
    )

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.reset()

    def reset(self) -> None:
        """Ready for the next response on the same handle (its callbacks stay set)."""
        self.body: list[bytes] = []
        self.size = 0
        self.headers: list[tuple[str, str]] = []
        self.lines: list[bytes] = []  # of the header section being received
        self.status: int | None = None
        self.version = ""
        self.interim = 0
        self.header_bytes = 0
        self.complete = False  # the final header section has ended
        self.refused: str | None = None  # why we aborted the transfer
        self.truncated = False

    def header(self, line: bytes) -> int | None:
        # Called for every header line of every response: the common case does the least.
        self.header_bytes += len(line)
        if self.header_bytes > MAX_HEADER_BYTES:
            return self._refuse("header section larger than 64 KiB")
        if self.complete:
            return None  # a trailer field: counted, never reported
        if len(line) > 2:
            self.lines.append(line)
            return None
        if line.strip():
            self.lines.append(line)
            return None
        return self._section_end()

    def write(self, chunk: bytes) -> int | None:
        room = self.cap - self.size
        if len(chunk) <= room:
            self.body.append(chunk)
            self.size += len(chunk)
            return None
        self.body.append(chunk[:room])
        self.size = self.cap
        self.truncated = True  # not an error: the answer is judged on what we kept
        return 0

    def data(self) -> bytes:
        return b"".join(self.body)

    def _section_end(self) -> int | None:
        """A header section ended: an interim 1xx one, or the final one, parsed now."""
        status_line, *fields = self.lines or [b""]
        self.lines = []
        parts = status_line.split(None, 2)
        self.version = parts[0].decode("ascii", "replace") if parts else ""
        self.status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        if self.status is not None and self.status < 200:
            self.interim += 1
            if self.interim > MAX_INTERIM:
                return self._refuse(f"more than {MAX_INTERIM} interim (1xx) responses")
            return None
        self.complete = True
        self.headers = _fields(fields)
        problem = _framing_problem(self.version, self.headers, b"".join(fields))
        return None if problem is None else self._refuse(problem)

    def _refuse(self, reason: str) -> int:
        self.refused = reason
        return 0


def _fields(lines: list[bytes]) -> list[tuple[str, str]]:
    fields: list[tuple[str, str]] = []
    for line in lines:
        text = line.decode("latin-1")
        if text[0] in " \t" and fields:  # obsolete line folding
            name, value = fields[-1]
            fields[-1] = (name, f"{value} {text.strip()}")
            continue
        name, sep, value = text.partition(":")
        if sep and (name := name.strip()):
            fields.append((name, value.strip()))
    return fields


def _framing_problem(version: str, headers: list[tuple[str, str]], raw: bytes) -> str | None:
    """RFC 9112 section 6.3 framing that libcurl accepts but that must not keep a connection."""
    if b"transfer-encoding" not in raw.lower():
        return None  # most answers: one search of the raw section instead of a set of names
    names = {name.lower() for name, _ in headers}
    if "transfer-encoding" not in names:
        return None  # conflicting Content-Length values: libcurl refuses those itself
    if "content-length" in names:
        return "both Content-Length and Transfer-Encoding"
    if version == "HTTP/1.0":
        return "Transfer-Encoding in an HTTP/1.0 response"
    return None
