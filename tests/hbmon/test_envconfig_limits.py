"""The inputs that once crashed a binary: now exit 2 with the variable and a short value."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import trustme

from alerter.config import AlerterConfig
from exporter.config import ExporterConfig
from hbmon.envconfig import ConfigError
from tests.support import base_env, run_cli

HUGE = "9" * 4301  # one digit past Python's int-string limit
CUT = "'" + "9" * 100 + "'... (4301 characters)"
LONG_NAME = "/tmp/" + "n" * 300
LONG_SHOWN = "'" + LONG_NAME[:100] + "'... (305 characters)"
TOO_LONG = "has a file or directory name longer than 255 bytes"

CASES = [
    (
        "heartbeat-exporter",
        {"PROBE_MAX_WORKERS": HUGE},
        f"PROBE_MAX_WORKERS={CUT}: must be a whole number from 1 to 2147483647",
    ),
    (
        "heartbeat-alerter",
        {"STATUS_CHANGE_THRESHOLD": HUGE},
        f"STATUS_CHANGE_THRESHOLD={CUT}: must be a whole number from 1 to 2147483647",
    ),
    (
        "heartbeat-alerter",
        {"SECRET_KEY_FILE": "{tmp}/latin1"},
        "SECRET_KEY_FILE='{tmp}/latin1': names a file that is not UTF-8 text",
    ),
    (
        "heartbeat-alerter",
        {"N8N_WEBHOOK_URL_FILE": "{tmp}"},
        "N8N_WEBHOOK_URL_FILE='{tmp}': is not a regular file",
    ),
    (
        "heartbeat-alerter",
        {"HEARTBEAT_URL_FILE": "{tmp}/missing"},
        "HEARTBEAT_URL_FILE='{tmp}/missing': cannot be read (No such file or directory)",
    ),
    (
        "heartbeat-exporter",
        {"HTTP_CA_BUNDLE": LONG_NAME},
        f"HTTP_CA_BUNDLE={LONG_SHOWN}: {TOO_LONG}",
    ),
    ("heartbeat-exporter", {"DISK_PATH": LONG_NAME}, f"DISK_PATH={LONG_SHOWN}: {TOO_LONG}"),
    (
        "heartbeat-alerter",
        {"SQLITE_DB_PATH": LONG_NAME},
        f"SQLITE_DB_PATH={LONG_SHOWN}: {TOO_LONG}",
    ),
    (
        "heartbeat-exporter",
        {"DOCKER_HOST": "ftp://docker.test/"},
        "DOCKER_HOST='ftp://docker.test/': must be unix://, tcp://, http:// or https://",
    ),
    (
        "heartbeat-exporter",
        {"DOCKER_HOST": "tcp://docker.test"},
        "DOCKER_HOST='tcp://docker.test': must be HOST:PORT after tcp://, http:// or https://",
    ),
    (
        "heartbeat-exporter",
        {"SSL_CERT_FILE": "/no/such/ca.pem"},
        "SSL_CERT_FILE='/no/such/ca.pem': cannot be read (No such file or directory)",
    ),
    (
        "heartbeat-alerter",
        {"SSL_CERT_FILE": "{tmp}/latin1"},
        "SSL_CERT_FILE='{tmp}/latin1': holds no PEM certificates OpenSSL can load",
    ),
    (
        "heartbeat-exporter",
        {"RETENTION_DAYS": "x" * 120_000},
        "RETENTION_DAYS='" + "x" * 100 + "'... (120000 characters): must be a number > 0"
        " and <= 36500",
    ),
    (
        "heartbeat-alerter",
        {"ALERT_MAX_AGE_SECONDS": "1e300"},
        "ALERT_MAX_AGE_SECONDS='1e300': must be a number > 0 and <= 1000000000",
    ),
    (
        "heartbeat-exporter",
        {"LOOP_INTERVAL_SECONDS": "inf"},
        "LOOP_INTERVAL_SECONDS='inf': must be a number > 0 and <= 1000000000",
    ),
    (
        "heartbeat-alerter",
        {"HOST_LABEL": "web\x1b[2J"},
        "HOST_LABEL='web\\x1b[2J': contains a control character",
    ),
    (
        "heartbeat-alerter",
        {"HOST_LABEL": "caf\udce9"},  # the byte 0xE9 of a Latin-1 environment
        "HOST_LABEL='caf\\udce9': is not valid UTF-8",
    ),
    (
        "heartbeat-exporter",
        {"PING_URL": "http://" + "l" * 64 + ".test/"},
        "PING_URL='http://" + "l" * 64 + ".test/': has a host name that is too long or has an"
        " empty label",
    ),
    (
        "heartbeat-exporter",
        {"EXPORTER_LISTEN": "bad..host:9877"},
        "EXPORTER_LISTEN='bad..host:9877': must be HOST:PORT (e.g. 0.0.0.0:9877 or [::]:9877)",
    ),
    (
        "heartbeat-alerter",
        {"SECRET_KEY": "s3cr3t\udce9"},
        "SECRET_KEY=<redacted>: is not valid UTF-8",
    ),
]


@pytest.mark.parametrize(("binary", "env", "expected"), CASES, ids=lambda v: str(v)[:40])
def test_input_that_once_crashed_exits_2_with_a_short_message(
    tmp_path: Path, binary: str, env: dict[str, str], expected: str
) -> None:
    (tmp_path / "latin1").write_bytes(b"caf\xe9\n")
    env = {key: value.replace("{tmp}", str(tmp_path)) for key, value in env.items()}
    done = run_cli([binary, "--check-config"], base_env(tmp_path, **env), tmp_path)
    assert (done.returncode, done.stdout) == (2, ""), done.stderr
    assert done.stderr.splitlines()[1:] == ["  - " + expected.replace("{tmp}", str(tmp_path))]
    assert "Traceback" not in done.stderr
    assert "s3cr3t" not in done.stderr


def test_an_unreadable_env_file_exits_2(tmp_path: Path) -> None:
    (tmp_path / "latin1.env").write_bytes(b"TZ=caf\xe9\n")
    done = run_cli(
        ["heartbeat-exporter", "--check-config", "--env-file", "latin1.env"],
        base_env(tmp_path),
        tmp_path,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines()[1:] == [
        "  - --env-file 'latin1.env': cannot be read (not UTF-8 text)"
    ]


@pytest.fixture
def odd_files(tmp_path: Path) -> Path:
    """A FIFO (blocks whoever opens it), a file over 64 KiB, a real CA bundle."""
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "big").write_bytes(b"k" * 70_000)
    trustme.CA().cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    return tmp_path


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"SECRET_KEY_FILE": "{tmp}/fifo"}, "SECRET_KEY_FILE='{tmp}/fifo': is not a regular file"),
        ({"SECRET_KEY_FILE": "/dev/zero"}, "SECRET_KEY_FILE='/dev/zero': is not a regular file"),
        (
            {"SECRET_KEY_FILE": "{tmp}/big"},
            "SECRET_KEY_FILE='{tmp}/big': names a file larger than 65536 bytes",
        ),
        (
            {"TZ": ":{tmp}/fifo"},
            "TZ=':{tmp}/fifo': is not an IANA time zone (e.g. UTC, America/Lima)",
        ),
        ({"SQLITE_DB_PATH": "{tmp}"}, "SQLITE_DB_PATH='{tmp}': is a directory"),
    ],
    ids=lambda v: str(v)[:30],
)
def test_files_that_block_or_never_end_are_refused_without_opening_them(
    odd_files: Path, env: dict[str, str], expected: str
) -> None:
    env = {key: value.replace("{tmp}", str(odd_files)) for key, value in env.items()}
    with pytest.raises(ConfigError) as caught:
        AlerterConfig.from_env({"HOST_LABEL": "h", **env})
    assert caught.value.problems == [expected.replace("{tmp}", str(odd_files))]


@pytest.mark.parametrize(
    "docker_host",
    ["unix:///var/run/docker.sock", "tcp://127.0.0.1:2375", "https://127.0.0.1:2376"],
)
def test_docker_hosts_the_sdk_accepts_are_kept(docker_host: str) -> None:
    assert ExporterConfig.from_env({"DOCKER_HOST": docker_host}).docker_host == docker_host


def test_a_readable_ca_bundle_is_accepted_for_both_variables(odd_files: Path) -> None:
    pem = str(odd_files / "ca.pem")
    config = ExporterConfig.from_env({"SSL_CERT_FILE": pem, "HTTP_CA_BUNDLE": pem})
    assert (config.ssl_cert_file, config.ca_bundle) == (Path(pem), Path(pem))
