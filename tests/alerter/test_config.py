"""The alerter's configuration: defaults, every error naming its variable, secrets redacted."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from alerter.config import AlerterConfig, plaintext_urls
from hbmon import __version__
from hbmon.envconfig import ConfigError

ROOT = Path(__file__).resolve().parents[2]
ALERTER = ROOT / ".venv" / "bin" / "heartbeat-alerter"


def test_defaults() -> None:
    config = AlerterConfig.from_env({"HOST_LABEL": "h"})
    assert (config.down_threshold, config.recovery_threshold) == (4, 1)
    assert config.max_age == 86400.0
    assert config.language == "en"
    assert str(config.listen) == "0.0.0.0:9878"
    assert config.webhook_url is None and config.heartbeat_url is None
    assert config.poll <= 0.25


def test_host_label_defaults_to_hostname() -> None:
    import socket

    assert AlerterConfig.from_env({}).host_label == socket.gethostname()


BAD = [
    ("STATUS_CHANGE_THRESHOLD", "0"),
    ("RECOVERY_THRESHOLD", "x"),
    ("ALERT_MAX_AGE_SECONDS", "-1"),
    ("ALERT_LANGUAGE", "fr"),
    ("HEARTBEAT_INTERVAL_SECONDS", "soon"),
    ("HEARTBEAT_SIGNING", "md5"),
    ("HEARTBEAT_TIMEOUT_SECONDS", "0"),
    ("ALERTER_LISTEN", "nowhere"),
    ("LOOP_INTERVAL_SECONDS", "0"),
    ("TZ", "Mars/Olympus"),
    ("IP_FAMILY", "ipv5"),
    ("ALERT_RETRY_BASE_SECONDS", "0"),
    ("ALERTER_POLL_SECONDS", "1"),
    ("LOG_LEVEL", "loud"),
]


@pytest.mark.parametrize(("name", "value"), BAD, ids=[b[0] for b in BAD])
def test_bad_variable_is_named_with_its_value(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        AlerterConfig.from_env({name: value})
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith(f"{name}={value!r}")


def test_secret_urls_are_redacted_in_errors() -> None:
    with pytest.raises(ConfigError) as caught:
        AlerterConfig.from_env({"N8N_WEBHOOK_URL": "ftp://hooks/s3cr3t-path"})
    assert "s3cr3t" not in str(caught.value)
    assert "N8N_WEBHOOK_URL=<redacted>" in str(caught.value)


def test_heartbeat_needs_secret_key() -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        AlerterConfig.from_env({"HEARTBEAT_URL": "https://w.example/beat"})


def test_secret_key_file(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("file-secret-value\n")
    config = AlerterConfig.from_env({"SECRET_KEY_FILE": str(key)})
    assert config.secret_key == "file-secret-value"
    assert "file-secret-value" in config.secrets


def test_webhook_url_file(tmp_path: Path) -> None:
    hook = tmp_path / "hook"
    hook.write_text("https://n8n.example/webhook/abcdef\n")
    config = AlerterConfig.from_env({"N8N_WEBHOOK_URL_FILE": str(hook)})
    assert config.webhook_url == "https://n8n.example/webhook/abcdef"
    assert "/webhook/abcdef" in config.secrets


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", **extra}


def test_check_config_prints_redacted_and_exits_0(tmp_path: Path) -> None:
    env = _env(
        tmp_path,
        N8N_WEBHOOK_URL="https://n8n.example/webhook/s3cr3t-hook",
        HEARTBEAT_URL="https://w.example/beat?token=s3cr3t-q",
        SECRET_KEY="s3cr3t-key",
    )
    done = subprocess.run(
        [ALERTER, "--check-config"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "N8N_WEBHOOK_URL=https://n8n.example/***" in done.stdout
    assert "s3cr3t" not in done.stdout + done.stderr
    assert not (tmp_path / "data").exists()  # --check-config opens no database


def test_bad_variable_exits_2_before_starting(tmp_path: Path) -> None:
    env = _env(
        tmp_path,
        STATUS_CHANGE_THRESHOLD="many",
        ALERT_LANGUAGE="de",
        SQLITE_DB_PATH=str(tmp_path / "db.sqlite"),
    )
    done = subprocess.run(
        [ALERTER], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert lines[0] == "heartbeat-alerter: invalid configuration:"
    assert len(lines) == 3 and all(line.startswith("  - ") for line in lines[1:])
    assert any(line.startswith("  - STATUS_CHANGE_THRESHOLD='many'") for line in lines)
    assert any(line.startswith("  - ALERT_LANGUAGE='de'") for line in lines)
    assert not (tmp_path / "db.sqlite").exists()


def test_version_is_printed_like_the_exporters(tmp_path: Path) -> None:
    done = subprocess.run(
        [ALERTER, "--version"],
        env=_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0
    assert done.stdout == f"heartbeat-alerter {__version__}\n"


def test_dotenv_in_working_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("ALERT_LANGUAGE=es\n")
    done = subprocess.run(
        [ALERTER, "--check-config"],
        env=_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert "ALERT_LANGUAGE=es" in done.stdout


@pytest.mark.parametrize("key", ["s3cr3t\nkey", "s3cr3t\rkey", "s3cr3t€"])
def test_secret_key_must_be_visible_latin1_without_cr_lf(key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        AlerterConfig.from_env({"SECRET_KEY": key})
    assert caught.value.problems == ["SECRET_KEY=<redacted>: must be visible Latin-1 without CR/LF"]


def test_secret_key_file_with_a_line_break_inside_is_refused(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("s3cr3t\nmore\n")
    with pytest.raises(ConfigError) as caught:
        AlerterConfig.from_env({"SECRET_KEY_FILE": str(key)})
    assert caught.value.problems == ["SECRET_KEY=<redacted>: must be visible Latin-1 without CR/LF"]


def test_webhook_url_gets_idna_host_and_encoded_path() -> None:
    config = AlerterConfig.from_env({"N8N_WEBHOOK_URL": "https://bücher.example/hook/ä"})
    assert config.webhook_url == "https://xn--bcher-kva.example/hook/%C3%A4"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"HEARTBEAT_URL": "http://beat.example/b", "N8N_WEBHOOK_URL": "http://n8n.test/h"},
            ["N8N_WEBHOOK_URL", "HEARTBEAT_URL"],
        ),
        ({"HEARTBEAT_URL": "https://beat.example/b"}, []),
        ({"HEARTBEAT_URL": "http://127.0.0.1:8080/b", "N8N_WEBHOOK_URL": "http://localhost/h"}, []),
        ({"N8N_WEBHOOK_URL": "http://[::1]/h"}, []),
    ],
)
def test_plain_http_to_a_remote_host_is_named(env: dict[str, str], expected: list[str]) -> None:
    assert plaintext_urls(AlerterConfig.from_env({"SECRET_KEY": "k", **env})) == expected


def test_plain_http_heartbeat_warns_at_start_up_without_the_url(tmp_path: Path) -> None:
    env = _env(
        tmp_path,
        LOG_FORMAT="json",
        HEARTBEAT_URL="http://beat.example/s3cr3t-path",
        SECRET_KEY="s3cr3t-key",
    )
    done = subprocess.run(
        [ALERTER, "--check-config"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    warning = json.loads(done.stderr)
    assert (warning["event"], warning["level"], warning["variable"]) == (
        "config.plaintext_url",
        "warning",
        "HEARTBEAT_URL",
    )
    assert warning["detail"] == (
        "plain http:// to a host off this machine: its secret path and token travel in clear"
    )
    assert "s3cr3t" not in done.stderr + done.stdout


def test_check_config_names_each_apprise_service_masked(tmp_path: Path) -> None:
    urls = (
        "tgram://123456789:s3cr3tT0kenABCDEFGHIJ/4242, "
        "mailtos://bob:s3cr3t-pw@mail.example.test?to=a@x.test,b@x.test&from=hb@x.test"
    )
    env = _env(tmp_path, APPRISE_URLS=urls, ALERTMANAGER_URLS="http://am-1:9093,http://am-2:9093")
    done = subprocess.run(
        [ALERTER, "--check-config"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    [line] = [x for x in done.stdout.splitlines() if x.startswith("APPRISE_URLS=")]
    assert line.startswith("APPRISE_URLS=Telegram: tgram://1...J/***; E-Mail: mailtos://bob:")
    assert "ALERTMANAGER_URLS=http://am-1:9093/***,http://am-2:9093/***" in done.stdout
    assert "s3cr3t" not in done.stdout + done.stderr


def test_apprise_urls_split_on_spaces_and_commas_but_not_inside_a_query() -> None:
    config = AlerterConfig.from_env(
        {"APPRISE_URLS": "json://h.test/a,mailto://h.test?to=a@x.test,b@x.test&from=c@x.test"}
    )
    assert config.apprise_urls == (
        "json://h.test/a",
        "mailto://h.test?to=a@x.test,b@x.test&from=c@x.test",
    )
    assert config.delivers and "json://h.test/a" in config.secrets


def test_a_bad_apprise_url_exits_2_naming_the_variable_not_the_url() -> None:
    with pytest.raises(ConfigError) as refused:
        AlerterConfig.from_env({"APPRISE_URLS": "json://h.test/ok nonsense://s3cr3t"})
    assert "APPRISE_URLS=<redacted>: URL #2:" in str(refused.value)
    assert "s3cr3t" not in str(refused.value)
