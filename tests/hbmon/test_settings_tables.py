"""The settings tables are the one declaration: README, .env.example and configs agree with them."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from alerter import cli as alerter_cli
from alerter.config import AlerterConfig
from exporter import cli as exporter_cli
from exporter.config import ExporterConfig
from hbmon.alerter_settings import ALERTER_SETTINGS
from hbmon.exporter_settings import (
    EXPORTER_SETTINGS,
    NET_SETTINGS,
    SERVICE_NAMES,
    SERVICE_PREFIXES,
)
from hbmon.settings import COMMON_SETTINGS, IP_FAMILY, CommonSettings, Setting, describe

ROOT = Path(__file__).resolve().parents[2]
SHARED = (*COMMON_SETTINGS, IP_FAMILY)
ALERTER_OWN = tuple(s for s in ALERTER_SETTINGS if s not in SHARED)
EVERY_SETTING = {s.variable: s for s in (*EXPORTER_SETTINGS, *ALERTER_SETTINGS)}
_ROW = re.compile(r"^\| `([A-Z][A-Z0-9_]*(?:<name>)?)`")
_EXAMPLE = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=(\S*)")


def _section(text: str, heading: str) -> str:
    """The text under `heading` up to the next heading of the same or a higher level."""
    level = heading.split(" ", maxsplit=1)[0]
    start = text.index(f"\n{heading}\n")
    ends = [text.find(f"\n{'#' * n} ", start + 1) for n in range(1, len(level) + 1)]
    return text[start : min((e for e in ends if e != -1), default=len(text))]


def _readme_rows(section: str) -> dict[str, list[str]]:
    """Variable -> the cells of its row, for each `| `VARIABLE` | default | meaning |` row."""
    rows = {}
    for line in section.splitlines():
        match = _ROW.match(line)
        if match:
            rows[match.group(1)] = [cell.strip() for cell in line.strip("|").split(" | ")]
    return rows


README = (ROOT / "README.md").read_text(encoding="utf-8")
SERVICE_ROWS = _readme_rows(_section(_section(README, "## Configuration"), "### Services"))
EXPORTER_ROWS = _readme_rows(_section(_section(README, "## Configuration"), "### Exporter"))
ALERTER_SECTION = _section(
    _section(README, "## The alerter (`heartbeat-alerter`)"), "### Configuration"
)
ALERTER_ROWS = _readme_rows(ALERTER_SECTION)


@pytest.mark.parametrize(
    ("rows", "table"),
    [(EXPORTER_ROWS, EXPORTER_SETTINGS), (ALERTER_ROWS, ALERTER_OWN)],
    ids=["exporter", "alerter"],
)
def test_readme_table_lists_exactly_the_settings_with_their_defaults(
    rows: dict[str, list[str]], table: tuple[Setting[object], ...]
) -> None:
    assert set(rows) == {s.variable for s in table}
    for setting in table:
        cells = rows[setting.variable]
        assert cells[1] == setting.readme_default, setting.variable
        if setting.secret:
            assert f"`{setting.variable}_FILE`" in cells[0], setting.variable


def test_alerter_readme_names_the_shared_settings() -> None:
    shared_row = next(line for line in ALERTER_SECTION.splitlines() if "Shared with" in line)
    named = re.findall(r"`([A-Z][A-Z0-9_]*)`", shared_row.split(" | ")[0])
    assert sorted(named) == sorted(s.variable for s in SHARED)


def _env_example() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        match = _EXAMPLE.match(line)
        if match:
            values.setdefault(match.group(1), match.group(2))
    return values


@pytest.mark.parametrize("setting", EVERY_SETTING.values(), ids=list(EVERY_SETTING))
def test_env_example_shows_every_setting_with_its_default(setting: Setting[object]) -> None:
    example = _env_example()
    assert setting.variable in example
    if setting.documented is None:  # a fixed default: the file must show that very value
        assert example[setting.variable] == setting.default_text


@pytest.mark.parametrize(
    ("config", "table", "composite"),
    [
        (ExporterConfig, EXPORTER_SETTINGS, NET_SETTINGS),
        (AlerterConfig, ALERTER_SETTINGS, (IP_FAMILY,)),
        (CommonSettings, COMMON_SETTINGS, ()),
    ],
    ids=["exporter", "alerter", "common"],
)
def test_every_setting_fills_a_config_field_with_its_default(
    config: type, table: tuple[Setting[object], ...], composite: tuple[Setting[object], ...]
) -> None:
    fields = {f.name: f for f in dataclasses.fields(config)}
    plain = [s for s in table if s not in composite]
    # Every field is filled by a setting, except those built from several (net) or services.
    assert set(fields) - {"services", "net"} == {s.field for s in plain}
    for setting in plain:
        assert fields[setting.field].default == setting.default, setting.variable
    assert all(s.get is not None for s in composite)


def test_variables_and_fields_are_declared_once() -> None:
    for table in (EXPORTER_SETTINGS, ALERTER_SETTINGS):
        assert len({s.variable for s in table}) == len(table)
        assert len({s.field for s in table}) == len(table)


def test_both_check_config_printers_list_every_setting_in_table_order() -> None:
    exporter = describe(ExporterConfig.from_env({}), EXPORTER_SETTINGS)
    alerter = describe(AlerterConfig.from_env({"HOST_LABEL": "h"}), ALERTER_SETTINGS)
    assert [line.split("=")[0] for line in exporter] == [s.variable for s in EXPORTER_SETTINGS]
    assert [line.split("=")[0] for line in alerter] == [s.variable for s in ALERTER_SETTINGS]
    assert "SECRET_KEY=<unset>" in alerter
    assert "LOG_FORMAT=auto" in exporter


def test_defaults_print_as_documented() -> None:
    lines = describe(ExporterConfig.from_env({}), EXPORTER_SETTINGS)
    for setting, line in zip(EXPORTER_SETTINGS, lines, strict=True):
        # Override settings print empty while no INTERNAL_DNS_OVERRIDE_IP turns them on.
        if setting.documented is None and setting not in NET_SETTINGS[1:]:
            assert line == f"{setting.variable}={setting.default_text}"


def test_readme_and_env_example_name_every_service_variable() -> None:
    variables = {SERVICE_NAMES, *(prefix + "<name>" for prefix in SERVICE_PREFIXES)}
    assert set(SERVICE_ROWS) == variables
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    for variable in (SERVICE_NAMES, *SERVICE_PREFIXES):
        assert re.search(rf"^#? ?{variable}\w*=", example, re.MULTILINE), variable


@pytest.mark.parametrize(
    ("parse_args", "table"),
    [(exporter_cli.parse_args, EXPORTER_SETTINGS), (alerter_cli.parse_args, ALERTER_SETTINGS)],
    ids=["exporter", "alerter"],
)
def test_help_lists_every_variable_with_its_default(
    parse_args: Callable[[list[str]], object],
    table: tuple[Setting[object], ...],
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--help"])
    out = capsys.readouterr().out
    for setting in table:
        assert f"  {setting.variable}" in out
        assert f"(default: {setting.readme_default.replace('`', '')})" in out


SECRETS = [s for s in ALERTER_SETTINGS if s.secret]


@pytest.mark.parametrize("setting", SECRETS, ids=[s.variable for s in SECRETS])
def test_secret_settings_read_their_file_and_are_never_printed(
    setting: Setting[object], tmp_path: Path
) -> None:
    url = "jsons://x.test/s3cr3t" if setting.variable == "APPRISE_URLS" else "https://x.test/s3cr3t"
    secret = tmp_path / "secret"
    secret.write_text(url + "\n")
    env = {"SECRET_KEY": "k3y", "HOST_LABEL": "h"}
    env.pop(setting.variable, None)
    env[f"{setting.variable}_FILE"] = str(secret)
    config = AlerterConfig.from_env(env)
    value = getattr(config, setting.field)
    assert value == ((url,) if isinstance(value, tuple) else url)
    assert "s3cr3t" not in "\n".join(describe(config, ALERTER_SETTINGS))
