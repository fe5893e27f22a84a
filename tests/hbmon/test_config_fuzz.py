"""No environment crashes either binary: exit 0 or 2, no traceback, no secret in the output."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from unittest import mock

import pytest
import trustme
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from alerter import cli as alerter_cli
from exporter import cli as exporter_cli
from hbmon.alerter_settings import ALERTER_SETTINGS
from hbmon.exporter_settings import EXPORTER_SETTINGS, SERVICE_NAMES, SERVICE_PREFIXES
from tests.support import base_env, run_cli

MARK = "s3cr3t"  # every secret value carries it; no output may
FILES = "@files"  # stands for the directory of the `files` fixture
Main = Callable[[Sequence[str] | None], int]

# Characters an environment can hold: anything but NUL; undecodable bytes arrive as the
# lone surrogates U+DC80..U+DCFF (PEP 383), which os.environ encodes back to bytes.
_CHARS = st.characters(
    codec=None, blacklist_characters="\0", blacklist_categories=("Cs",)
) | st.sampled_from("\udcff\udc80\t\n\r\x1b\x7f\x85\u2028 ")
_SHAPES = st.one_of(
    st.text(_CHARS, max_size=40),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats().map(str),
    st.sampled_from(["nan", "inf", "-inf", "1e400", "1e300", "-0", "0", "0.0001", "1_0", "٣"]),
    st.integers(min_value=4290, max_value=4400).map(lambda n: "7" * n),
    st.sampled_from(["x" * 300, "/tmp/" + "y" * 300, "a/" * 2100, " ", "\t", "ünïcødé"]),
    st.sampled_from(["/", "/proc/self/status", "/dev/zero", "/nonexistent", str(Path(__file__))]),
    st.sampled_from(["ftp://x/", "ssh://h", "npipe:////./pipe/d", "tcp://h", "tcp://h:99999"]),
    st.sampled_from(["unix://" + "/s" * 80, "http://" + "l" * 64 + ".test/", "http://[::1/"]),
    st.sampled_from(["http://a..b/", "https://é.test:8/ä", "docker:", "docker:db", "h:80"]),
    st.just("v" * 120_000),
    st.sampled_from(["latin1", "empty", "big", "dir", "fifo", "pem", "text", "missing"]).map(
        lambda name: f"{FILES}/{name}"
    ),
)
_SECRETS = st.sampled_from(
    [MARK, f"https://hook.test/{MARK}", f"{MARK}\n", f"http://u:{MARK}@h.test/?{MARK}"]
)


def _variables() -> list[str]:
    names = {s.variable for s in (*EXPORTER_SETTINGS, *ALERTER_SETTINGS) if not s.secret}
    names |= {SERVICE_NAMES, *(prefix + name for prefix in SERVICE_PREFIXES for name in "ab")}
    return sorted(names)


SECRET_VARIABLES = sorted(s.variable for s in ALERTER_SETTINGS if s.secret)
environments = st.tuples(
    st.dictionaries(st.sampled_from(_variables()), _SHAPES, max_size=8),
    st.dictionaries(st.sampled_from(SECRET_VARIABLES), _SECRETS, max_size=3),
    st.dictionaries(st.sampled_from([f"{v}_FILE" for v in SECRET_VARIABLES]), _SHAPES, max_size=1),
    st.sampled_from(["", f"X-Key:{MARK}", f"A:b,{MARK}", f"K:{MARK}\r\n"]),
).map(lambda parts: {**parts[0], **parts[1], **parts[2], "SERVICE_HEADERS_a": parts[3]})


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Files a `*_FILE`, a path or a CA bundle may name: each kind that once crashed a reader."""
    folder = tmp_path_factory.mktemp("files")
    (folder / "latin1").write_bytes(b"caf\xe9 " + MARK.encode())
    (folder / "empty").write_bytes(b"")
    (folder / "big").write_bytes(b"k" * 70_000)
    (folder / "dir").mkdir()
    os.mkfifo(folder / "fifo")
    trustme.CA().cert_pem.write_to_path(str(folder / "pem"))
    (folder / "text").write_text(f"{MARK}-in-a-file\n")
    return folder


def with_files(env: dict[str, str], files: Path) -> dict[str, str]:
    return {key: value.replace(FILES, str(files)) for key, value in env.items()}


def run_in_process(main: Main, env: dict[str, str], tmp: Path) -> tuple[int, str]:
    """`main(["--check-config"])` on exactly `env`: its exit status and everything it printed."""
    out = io.StringIO()
    with (
        mock.patch.dict(os.environ, env, clear=True),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(out),
    ):
        try:
            status = main(["--check-config", "--env-file", str(tmp / "no.env")])
        except SystemExit as exit_:
            status = int(exit_.code or 0)
    return status, out.getvalue()


@pytest.mark.parametrize("main", [exporter_cli.main, alerter_cli.main], ids=["exporter", "alerter"])
@settings(
    max_examples=800,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(env=environments)
def test_no_environment_crashes_check_config(
    main: Main, env: dict[str, str], files: Path, tmp_path: Path
) -> None:
    status, output = run_in_process(main, with_files(env, files), tmp_path)
    event(f"exit {status}")  # --hypothesis-show-statistics: both outcomes are exercised
    assert status in {0, 2}, output
    assert "Traceback" not in output
    assert MARK not in output
    problems = [line for line in output.splitlines() if line.startswith("  - ")]
    assert all(len(line) < 400 for line in problems), "a long value was echoed"


@pytest.mark.slow
@pytest.mark.parametrize("binary", ["heartbeat-exporter", "heartbeat-alerter"])
@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(env=environments)
def test_no_environment_crashes_the_real_binary(
    binary: str, env: dict[str, str], files: Path, tmp_path: Path
) -> None:
    done = run_cli(
        [binary, "--check-config"], base_env(tmp_path, **with_files(env, files)), tmp_path
    )
    assert done.returncode in {0, 2}, done.stderr
    assert "Traceback" not in done.stderr
    assert MARK not in done.stdout + done.stderr
