"""Configured URLs and header values are checked at start-up; URL passwords never printed."""

from __future__ import annotations

import pytest

from hbmon.configurl import http_url, is_loopback, redact_credentials
from hbmon.envconfig import EnvReader, is_field_value

NORMALIZED = [
    ("https://example.test/health", "https://example.test/health"),
    ("https://café.example/", "https://xn--caf-dma.example/"),
    ("https://u:p@Bücher.example:8443/x", "https://u:p@xn--bcher-kva.example:8443/x"),
    ("http://x.test/ü path?q=ä b", "http://x.test/%C3%BC%20path?q=%C3%A4%20b"),
    ("http://x.test/already%20encoded?a=1&b=%2F", "http://x.test/already%20encoded?a=1&b=%2F"),
    ("http://[::1]:8080/p", "http://[::1]:8080/p"),
]


@pytest.mark.parametrize(("url", "expected"), NORMALIZED)
def test_hosts_are_idna_encoded_and_paths_percent_encoded(url: str, expected: str) -> None:
    assert http_url(url) == expected


BAD_URLS = [
    ("ftp://x.test/", "must be an http:// or https:// URL"),
    ("http://[::1/", "is not a valid URL"),
    ("http://x.test:99999/", "has an invalid port"),
    ("http://x.test:port/", "has an invalid port"),
    (f"http://é{'a' * 70}.test/", "has a host name that is not valid IDNA"),
]


@pytest.mark.parametrize(("url", "reason"), BAD_URLS)
def test_unusable_urls_are_refused_with_a_reason(url: str, reason: str) -> None:
    with pytest.raises(ValueError, match=f"^{reason}$"):
        http_url(url)


REDACTED = [
    ("https://user:pa55@host.test/", "https://user:<redacted>@host.test/"),
    ("https://host.test/p?token=t0k", "https://host.test/p?<redacted>"),
    ("https://user@host.test/", "https://user@host.test/"),
    ("http://u:p@[bad/", "<redacted>"),
    ("not a url", "not a url"),
]


@pytest.mark.parametrize(("value", "shown"), REDACTED)
def test_url_credentials_are_redacted(value: str, shown: str) -> None:
    assert redact_credentials(value) == shown


def test_every_config_error_redacts_url_credentials() -> None:
    reader = EnvReader({"PING_URL": "ftp://me:s3cret@x.test/"})
    assert reader.url("PING_URL") is None
    assert reader.problems == [
        "PING_URL='ftp://me:<redacted>@x.test/': must be an http:// or https:// URL"
    ]


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("Bearer abc", True),
        ("café", True),
        ("a\tb", True),
        ("a\rb", False),
        ("a\nb", False),
        ("€", False),
        ("\x00", False),
        ("\x85", False),
        ("\x7f", False),
    ],
)
def test_header_values_must_be_visible_latin1_without_cr_lf(value: str, valid: bool) -> None:
    assert is_field_value(value) is valid


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("127.0.0.1", True),
        ("127.8.9.1", True),
        ("::1", True),
        ("api.localhost", True),
        ("example.test", False),
        ("10.0.0.1", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
