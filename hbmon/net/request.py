"""Encoding a request's head and body into the bytes to send, with http.client's own checks."""

from __future__ import annotations

import http.client
import re
from collections.abc import Iterable

# The checks `http.client.HTTPConnection.putrequest`/`putheader` make against header injection.
_METHOD_CONTROL = re.compile("[\x00-\x1f]").search
_TARGET_CONTROL = re.compile("[\x00-\x20\x7f]").search
_LEGAL_NAME = re.compile(rb"[^:\s][^:\r\n]*").fullmatch
_ILLEGAL_VALUE = re.compile(rb"\n(?![ \t])|\r(?![ \t\n])").search


def encode_request(
    method: str, target: str, fields: Iterable[tuple[str, str]], body: bytes | None
) -> bytes:
    """`method target HTTP/1.1`, the fields in order, and the body, as http.client writes them.

    Raises ValueError (InvalidURL, UnicodeEncodeError) where http.client would.
    """
    if found := _METHOD_CONTROL(method):
        raise ValueError(f"method can't contain control characters (found {found.group()!r})")
    if found := _TARGET_CONTROL(target):
        raise http.client.InvalidURL(f"URL can't contain control characters ({found.group()!r})")
    lines = [f"{method} {target} HTTP/1.1".encode("ascii")]
    for name, value in fields:
        raw_name, raw_value = name.encode("ascii"), value.encode("latin-1")
        if not _LEGAL_NAME(raw_name):
            raise ValueError(f"Invalid header name {raw_name!r}")
        if _ILLEGAL_VALUE(raw_value):
            raise ValueError("Invalid header value")  # never echo it: it may be a secret
        lines.append(raw_name + b": " + raw_value)
    lines += (b"", body or b"")
    return b"\r\n".join(lines)
