"""Configuration: every bad variable names itself and its value, and the process exits 2."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from exporter.config import ExporterConfig, plaintext_secrets
from hbmon.envconfig import ConfigError
from hbmon.net.policy import IpFamily, OverrideMode
from tests.support import base_env, run_cli

BAD_VARIABLES = [
    ({"LOOP_INTERVAL_SECONDS": "ten"}, "LOOP_INTERVAL_SECONDS='ten'"),
    ({"LOOP_INTERVAL_SECONDS": "0"}, "LOOP_INTERVAL_SECONDS='0'"),
    ({"LOOP_INTERVAL_SECONDS": "-5"}, "LOOP_INTERVAL_SECONDS='-5'"),
    ({"LOOP_INTERVAL_SECONDS": "nan"}, "LOOP_INTERVAL_SECONDS='nan'"),
    ({"SERVICE_TIMEOUT_SECONDS": "2s"}, "SERVICE_TIMEOUT_SECONDS='2s'"),
    ({"SERVICE_TIMEOUT_SECONDS": "12"}, "SERVICE_TIMEOUT_SECONDS='12'"),
    ({"SERVICE_URL_api": "ftp://example.test/"}, "SERVICE_URL_api='ftp://example.test/'"),
    ({"SERVICE_URL_api": "example.test"}, "SERVICE_URL_api='example.test'"),
    ({"SERVICE_URL_api": "http://host:99999/"}, "SERVICE_URL_api='http://host:99999/'"),
    ({"SERVICE_URL_db": "docker:"}, "SERVICE_URL_db='docker:'"),
    ({"SERVICE_URL_db": "docker:bad name"}, "SERVICE_URL_db='docker:bad name'"),
    ({"SERVICE_URL_a b": "http://x.test/"}, "SERVICE_URL_a b="),
    (
        {"SERVICE_URL_api": "http://x.test/", "SERVICE_HEADERS_api": "X-Token:abc,broken"},
        "SERVICE_HEADERS_api=<redacted>: pair 2",
    ),
    (
        {"SERVICE_URL_api": "http://x.test/", "SERVICE_METHOD_api": "POST"},
        "SERVICE_METHOD_api='POST'",
    ),
    (
        {"SERVICE_URL_api": "http://x.test/", "SERVICE_DNS_OVERRIDE_api": "maybe"},
        "SERVICE_DNS_OVERRIDE_api='maybe'",
    ),
    ({"SERVICE_NAMES": "api,web", "SERVICE_URL_api": "http://x.test/"}, "'web'"),
    (
        {"SERVICE_URL_api": "http://x.test/", "SERVICE_DEPENDS_ON_api": "db"},
        "SERVICE_DEPENDS_ON_api='db': names no configured service",
    ),
    (
        {"SERVICE_URL_api": "http://x.test/", "SERVICE_DEPENDS_ON_api": "api"},
        "SERVICE_DEPENDS_ON_api='api': is a dependency cycle: api -> api",
    ),
    ({"TZ": "Mars/Olympus"}, "TZ='Mars/Olympus'"),
    ({"PING_URL": "www.google.com"}, "PING_URL='www.google.com'"),
    ({"EXPORTER_LISTEN": "9877"}, "EXPORTER_LISTEN='9877'"),
    ({"EXPORTER_LISTEN": "0.0.0.0:70000"}, "EXPORTER_LISTEN='0.0.0.0:70000'"),
    ({"RETENTION_DAYS": "forever"}, "RETENTION_DAYS='forever'"),
    ({"LOG_LEVEL": "loud"}, "LOG_LEVEL='loud'"),
    ({"LOG_FORMAT": "xml"}, "LOG_FORMAT='xml'"),
    ({"DISK_PATH": "/no/such/disk"}, "DISK_PATH='/no/such/disk'"),
    ({"IP_FAMILY": "ipv5"}, "IP_FAMILY='ipv5'"),
    ({"INTERNAL_DNS_OVERRIDE_IP": "10.0.0.300"}, "INTERNAL_DNS_OVERRIDE_IP='10.0.0.300'"),
    (
        {"INTERNAL_DNS_OVERRIDE_IP": "127.0.0.1", "INTERNAL_DNS_OVERRIDE_MODE": "magic"},
        "INTERNAL_DNS_OVERRIDE_MODE='magic'",
    ),
    ({"INTERNAL_DNS_OVERRIDE_HOSTS": "a.test,bad host"}, "INTERNAL_DNS_OVERRIDE_HOSTS="),
    ({"HTTP_CA_BUNDLE": "/no/ca.pem"}, "HTTP_CA_BUNDLE='/no/ca.pem'"),
    ({"HTTP_MAX_REDIRECTS": "-1"}, "HTTP_MAX_REDIRECTS='-1'"),
    ({"PROBE_MAX_WORKERS": "0"}, "PROBE_MAX_WORKERS='0'"),
]


@pytest.mark.parametrize(("env", "expected"), BAD_VARIABLES, ids=lambda v: str(v)[:40])
def test_bad_variable_exits_2_naming_variable_and_value(
    tmp_path: Path, env: dict[str, str], expected: str
) -> None:
    done = run_cli(["heartbeat-exporter", "--check-config"], base_env(tmp_path, **env), tmp_path)
    assert done.returncode == 2, done.stderr
    assert expected in done.stderr
    assert done.stdout == ""


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        ExporterConfig.from_env(
            {"LOOP_INTERVAL_SECONDS": "x", "TZ": "Nowhere/Land", "SERVICE_URL_a": "gopher://a"}
        )
    names = " ".join(caught.value.problems)
    assert "LOOP_INTERVAL_SECONDS" in names
    assert "TZ" in names
    assert "SERVICE_URL_a" in names


def test_header_values_never_appear_in_the_error(tmp_path: Path) -> None:
    done = run_cli(
        ["heartbeat-exporter", "--check-config"],
        base_env(
            tmp_path,
            SERVICE_URL_api="http://x.test/",
            SERVICE_HEADERS_api="Authorization:Bearer sup3rs3cret,oops",
        ),
        tmp_path,
    )
    assert done.returncode == 2
    assert "sup3rs3cret" not in done.stderr + done.stdout


def test_check_config_prints_resolved_configuration_without_secrets(tmp_path: Path) -> None:
    done = run_cli(
        ["heartbeat-exporter", "--check-config"],
        base_env(
            tmp_path,
            SERVICE_URL_Api="https://user:pa55word@api.example.test/health?token=t0ken",
            SERVICE_HEADERS_Api="X-Health:yes-secret-value",
            SERVICE_URL_db="docker:postgres",
            LOOP_INTERVAL_SECONDS="2.5",
        ),
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "LOOP_INTERVAL_SECONDS=2.5" in out
    assert "Api: http https://api.example.test/health" in out
    assert "db: docker docker:postgres" in out
    assert "X-Health:<redacted>" in out
    for secret in ("pa55word", "t0ken", "yes-secret-value"):
        assert secret not in out


def test_dotenv_file_is_read_and_real_environment_wins(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "# previous agent's file\n"
        "SERVICE_NAMES=web\n"
        'SERVICE_URL_web="http://web.test/"\n'
        "LOOP_INTERVAL_SECONDS=30\n"
        "export TZ=America/Lima\n"
    )
    env = base_env(tmp_path, LOOP_INTERVAL_SECONDS="5")
    done = run_cli(["heartbeat-exporter", "--check-config"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "LOOP_INTERVAL_SECONDS=5" in done.stdout
    assert "TZ=America/Lima" in done.stdout
    assert "web: http http://web.test/" in done.stdout


def test_service_names_selects_and_orders_services() -> None:
    config = ExporterConfig.from_env(
        {
            "SERVICE_NAMES": "web, API",
            "SERVICE_URL_API": "http://api.test/",
            "SERVICE_URL_web": "http://web.test/",
            "SERVICE_URL_unlisted": "http://other.test/",
        }
    )
    assert [s.name for s in config.services] == ["web", "API"]


def test_discovered_services_keep_their_case_and_parse_headers() -> None:
    config = ExporterConfig.from_env(
        {
            "SERVICE_URL_NextJS": "https://site.test/",
            "SERVICE_HEADERS_NextJS": "x-health-check:true, Authorization:Bearer a:b",
            "SERVICE_METHOD_NextJS": "head",
            "SERVICE_URL_db": "docker:postgres-1",
        }
    )
    web, db = sorted(config.services, key=lambda s: s.kind, reverse=True)
    assert web.name == "NextJS"
    assert web.headers == (("x-health-check", "true"), ("Authorization", "Bearer a:b"))
    assert web.method == "HEAD"
    assert (db.kind, db.target) == ("docker", "postgres-1")
    assert set(config.secrets) == {"true", "Bearer a:b"}


def test_network_policy_defaults_to_ipv4_and_resolve_mode() -> None:
    config = ExporterConfig.from_env(
        {"INTERNAL_DNS_OVERRIDE_IP": "127.0.0.1", "INTERNAL_DNS_OVERRIDE_HOSTS": "*.Example.test"}
    )
    assert config.net.ip_family is IpFamily.IPV4
    override = config.net.dns_override
    assert override is not None
    assert override.mode is OverrideMode.RESOLVE
    assert override.matches("API.example.test")
    assert not override.matches("example.test")
    assert not override.matches("other.test")


def test_defaults_match_the_previous_agent() -> None:
    config = ExporterConfig.from_env({})
    assert config.interval == 10.0
    assert config.service_timeout == 2.0
    assert str(config.db_path) == "data/metrics.db"
    assert config.ping_url == "http://www.google.com"
    assert str(config.listen) == "0.0.0.0:9877"
    assert config.retention_days == 7.0  # issue 12: raw cycles 7 days, rollups HISTORY_DAYS
    assert config.services == ()


def test_glibc_style_tz_file_is_accepted() -> None:
    config = ExporterConfig.from_env({"TZ": ":/etc/localtime"})
    assert config.tz.key  # named after the zoneinfo file /etc/localtime links to


def test_header_values_with_control_characters_are_rejected() -> None:
    with pytest.raises(ConfigError, match="SERVICE_HEADERS_api=<redacted>"):
        ExporterConfig.from_env(
            {"SERVICE_URL_api": "http://x.test/", "SERVICE_HEADERS_api": "X-A:ok\rInjected: 1"}
        )


def test_ping_url_credentials_are_secrets() -> None:
    config = ExporterConfig.from_env({"PING_URL": "https://u:pingpass@probe.test/?key=pingkey"})
    assert {"pingpass", "key=pingkey"} <= set(config.secrets)


def _problems(env: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        ExporterConfig.from_env(env)
    return caught.value.problems


def test_header_values_must_be_visible_latin1() -> None:
    problems = _problems({"SERVICE_URL_api": "http://x.test/", "SERVICE_HEADERS_api": "X-A:€uro"})
    assert problems == [
        "SERVICE_HEADERS_api=<redacted>: pair 1 has a value that is not visible Latin-1 or"
        " holds CR/LF (header values are redacted here)"
    ]


def test_service_urls_get_idna_hosts_and_encoded_paths() -> None:
    config = ExporterConfig.from_env({"SERVICE_URL_cafe": "https://café.example/ü path"})
    assert config.services[0].target == "https://xn--caf-dma.example/%C3%BC%20path"
    assert config.services[0].display_target == "https://xn--caf-dma.example/%C3%BC%20path"


def test_config_errors_redact_url_credentials(tmp_path: Path) -> None:
    done = run_cli(
        ["heartbeat-exporter", "--check-config"],
        base_env(
            tmp_path,
            SERVICE_URL_api="https://me:pa55word@x.test:99999/?key=k3y",
            PING_URL="gopher://me:pingpa55@ping.test/",
        ),
        tmp_path,
    )
    assert done.returncode == 2
    assert (
        "  - PING_URL='gopher://me:<redacted>@ping.test/': must be an http:// or https:// URL\n"
        in (done.stderr)
    )
    assert (
        "  - SERVICE_URL_api='https://me:<redacted>@x.test:99999/?<redacted>': has an invalid port"
        in done.stderr
    )
    for secret in ("pa55word", "pingpa55", "k3y"):
        assert secret not in done.stderr


def test_check_config_redacts_ping_url_credentials(tmp_path: Path) -> None:
    env = base_env(tmp_path, PING_URL="https://me:pingpa55@ping.test/")
    done = run_cli(["heartbeat-exporter", "--check-config"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "PING_URL=https://me:<redacted>@ping.test/\n" in done.stdout


def test_http_override_mode_warns_once_per_service_sending_secrets_in_clear(
    tmp_path: Path,
) -> None:
    env = base_env(
        tmp_path,
        LOG_FORMAT="json",
        INTERNAL_DNS_OVERRIDE_IP="127.0.0.1",
        INTERNAL_DNS_OVERRIDE_MODE="http",
        INTERNAL_DNS_OVERRIDE_HOSTS="*.internal.test",
        SERVICE_URL_headers="https://a.internal.test/",
        SERVICE_HEADERS_headers="Authorization:Bearer hdr-s3cret",
        SERVICE_URL_userinfo="https://me:url-s3cret@b.internal.test/",
        SERVICE_URL_plain="https://c.internal.test/",
        SERVICE_URL_optout="https://d.internal.test/",
        SERVICE_HEADERS_optout="X-Key:optout-s3cret",
        SERVICE_DNS_OVERRIDE_optout="false",
        SERVICE_URL_elsewhere="https://other.test/",
        SERVICE_HEADERS_elsewhere="X-Key:else-s3cret",
    )
    done = run_cli(["heartbeat-exporter", "--check-config"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    warnings = [json.loads(line) for line in done.stderr.splitlines()]
    assert [(w["event"], w["level"], w["service"]) for w in warnings] == [
        ("config.plaintext_secrets", "warning", "headers"),
        ("config.plaintext_secrets", "warning", "userinfo"),
    ]
    assert warnings[0]["detail"] == (
        "INTERNAL_DNS_OVERRIDE_MODE=http sends its headers or URL credentials over plain HTTP"
    )
    assert "s3cret" not in done.stderr


def test_resolve_mode_does_not_warn() -> None:
    config = ExporterConfig.from_env(
        {
            "INTERNAL_DNS_OVERRIDE_IP": "127.0.0.1",
            "SERVICE_URL_api": "https://api.test/",
            "SERVICE_HEADERS_api": "X-Key:v",
        }
    )
    assert plaintext_secrets(config) == []


def test_override_hosts_are_idna_encoded_to_match_service_urls() -> None:
    config = ExporterConfig.from_env(
        {
            "INTERNAL_DNS_OVERRIDE_IP": "127.0.0.1",
            "INTERNAL_DNS_OVERRIDE_HOSTS": "*.Bücher.example,café.example",
            "SERVICE_URL_shop": "https://shop.bücher.example/",
        }
    )
    override = config.net.dns_override
    assert override is not None
    assert override.hosts == ("*.xn--bcher-kva.example", "xn--caf-dma.example")
    assert override.matches(urlsplit(config.services[0].target).hostname or "")
