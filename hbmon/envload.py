"""The environment plus `.env` read once at start-up; a bad configuration exits with status 2."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from hbmon.envconfig import EXIT_CONFIG_ERROR, ConfigError, show

T = TypeVar("T")
_DOTENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")


def load_dotenv(path: Path) -> dict[str, str]:
    """Parse a `.env` file: KEY=value lines, optional quotes, `#` comments, `export` prefix."""
    if not path.is_file():
        return {}
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _DOTENV_LINE.match(line)
        if match is None:
            continue
        key, raw = match.groups()
        values[key] = _unquote(raw)
    return values


def _unquote(raw: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        return raw[1:-1]
    return re.sub(r"\s+#.*$", "", raw)


def merged_environment(env: Mapping[str, str], dotenv: Path | None) -> dict[str, str]:
    """Real environment variables win over the `.env` file, as with docker compose."""
    merged = load_dotenv(dotenv) if dotenv is not None else {}
    merged.update(env)
    return merged


def _merged_or_problem(env_file: Path) -> dict[str, str]:
    try:
        return merged_environment(os.environ, env_file)
    except (OSError, ValueError) as error:
        reason = getattr(error, "strerror", None) or "not UTF-8 text"
        raise ConfigError(
            [f"--env-file {show(str(env_file))}: cannot be read ({reason})"]
        ) from None


def load_or_exit(prog: str, from_env: Callable[[Mapping[str, str]], T], env_file: Path) -> T:
    """Build a config from the environment plus `env_file`; on problems print all, exit 2."""
    try:
        return from_env(_merged_or_problem(env_file))
    except ConfigError as error:
        print(f"{prog}: invalid configuration:", file=sys.stderr)
        for problem in error.problems:
            print(f"  - {problem}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG_ERROR) from None
