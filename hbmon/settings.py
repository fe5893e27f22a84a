"""Settings declared once: variable, field, reader, default, secrecy and help, in one table."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

from hbmon.envconfig import LOG_LEVELS, MAX_INTEGER, MAX_SECONDS, EnvReader, ListenAddress
from hbmon.envpaths import control_problem, creatable_problem, existing_problem, readable_problem
from hbmon.net.policy import IpFamily

T = TypeVar("T")
MAX_DAYS = 36500.0  # a century: `now - timedelta(days=...)` stays after year 1
Read = Callable[[EnvReader, str, T], T]


def plain(value: object) -> str:
    """How a value is printed by `--check-config` and documented: `10`, not `10.0`."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One environment variable and the config field it fills."""

    variable: str
    field: str
    read: Read[T]
    default: T
    help: str
    secret: bool = False  # also read from `<variable>_FILE`; never printed
    show: Callable[[T], str] | None = None  # `--check-config` form when not `plain`
    documented: str | None = None  # README default when the default is derived or unset
    fallback: Callable[[Mapping[str, Any]], T] | None = None  # default from earlier fields
    get: Callable[[Any], T] | None = None  # where the value sits when not in `field`

    def display(self, value: T) -> str:
        if self.show is not None:
            return self.show(value)
        if self.secret:
            return "<set>" if value else "<unset>"
        return plain(value)

    @property
    def default_text(self) -> str:
        return self.display(self.default)

    @property
    def readme_default(self) -> str:
        return self.documented or f"`{self.default_text}`"


def read_settings(reader: EnvReader, table: Iterable[Setting[Any]]) -> dict[str, Any]:
    """Field name -> value for every setting of `table`, problems collected by `reader`.

    Values are typed by their `Setting`; the dict only carries them to the frozen config.
    """
    values: dict[str, Any] = {}
    for setting in table:
        default = setting.fallback(values) if setting.fallback else setting.default
        values[setting.field] = setting.read(reader, setting.variable, default)
    return values


def describe(config: object, table: Iterable[Setting[Any]]) -> list[str]:
    """`VARIABLE=value` lines of the resolved configuration, secrets left out."""
    lines = []
    for setting in table:
        value = setting.get(config) if setting.get else getattr(config, setting.field)
        lines.append(f"{setting.variable}={setting.display(value)}")
    return lines


def help_text(table: Iterable[Setting[Any]]) -> str:
    """The `--help` epilog: every variable with its default and one-line help."""
    lines = ["environment variables (also read from --env-file):"]
    for setting in table:
        default = setting.readme_default.replace("`", "")
        also = f" or {setting.variable}_FILE" if setting.secret else ""
        lines.append(f"  {setting.variable}{also} (default: {default})")
        lines.append(f"      {setting.help.replace('`', '')}")
    return "\n".join(lines)


# --- readers -------------------------------------------------------------------------------


def number(
    *, minimum: float = 0.0, inclusive: bool = False, maximum: float = MAX_SECONDS
) -> Read[float]:
    return lambda r, name, default: r.number(
        name, default, minimum=minimum, inclusive=inclusive, maximum=maximum
    )


def integer(*, minimum: int = 1, maximum: int = MAX_INTEGER) -> Read[int]:
    return lambda r, name, default: r.integer(name, default, minimum=minimum, maximum=maximum)


def choice(*choices: str) -> Read[str]:
    return lambda r, name, default: r.choice(name, default, choices)


def text(r: EnvReader, name: str, default: str) -> str:
    """One line of text: any Unicode, no control characters."""
    return r.checked(name, default, control_problem)


def path(r: EnvReader, name: str, default: Path) -> Path:
    """A file that may not exist yet, but whose name Linux could create."""
    return Path(r.checked(name, str(default), creatable_problem))


def existing_path(r: EnvReader, name: str, default: str) -> str:
    return r.checked(name, default, existing_problem)


def ca_file(r: EnvReader, name: str, default: Path | None) -> Path | None:
    """A readable PEM file of CA certificates, checked now rather than at the first probe."""
    value = r.checked(name, "", ca_file_problem)
    return Path(value) if value else default


def ca_file_problem(value: str) -> str | None:
    """Why `value` is not a PEM file of CA certificates that OpenSSL accepts."""
    problem = readable_problem(value)
    if problem is not None:
        return problem
    try:
        ssl.create_default_context(cafile=value)
    except (ssl.SSLError, OSError, ValueError):
        return "holds no PEM certificates OpenSSL can load"
    return None


def timezone(r: EnvReader, name: str, default: ZoneInfo) -> ZoneInfo:
    return r.timezone(name, default.key)


def listen(r: EnvReader, name: str, default: ListenAddress) -> ListenAddress:
    return r.listen(name, str(default))


def url(r: EnvReader, name: str, default: str) -> str:
    return r.url(name) or default


def secret_url(r: EnvReader, name: str, default: str | None) -> str | None:
    return r.url(name, secret=True) or default


def _log_format(r: EnvReader, name: str, default: str | None) -> str | None:
    return r.choice(name, "", ("json", "console")) or default


def _ip_family(r: EnvReader, name: str, default: IpFamily) -> IpFamily:
    return IpFamily(r.choice(name, default.value, [f.value for f in IpFamily]))


# --- shared by both processes --------------------------------------------------------------

INTERVAL = Setting(
    "LOOP_INTERVAL_SECONDS",
    "interval",
    number(),
    10.0,
    "Cycle interval; decimals allowed, > 0. Cycles start on multiples of it since the epoch.",
)
DB_PATH = Setting(
    "SQLITE_DB_PATH", "db_path", path, Path("data/metrics.db"), "The database both processes share."
)
TZ = Setting("TZ", "tz", timezone, ZoneInfo("UTC"), "IANA zone for human-facing timestamps.")
LOG_LEVEL = Setting[str](
    "LOG_LEVEL", "log_level", choice(*LOG_LEVELS), "info", "`debug`, `info`, `warning` or `error`."
)
LOG_FORMAT = Setting[str | None](
    "LOG_FORMAT",
    "log_format",
    _log_format,
    None,
    "`json` or `console`.",
    show=lambda value: value or "auto",
    documented="`console` on a TTY, else `json`",
)
IP_FAMILY = Setting(
    "IP_FAMILY",
    "ip_family",
    _ip_family,
    IpFamily.IPV4,
    "`ipv4`, `ipv6` or `auto` for every outgoing HTTP request.",
    get=lambda config: config.net.ip_family,
)
SSL_CERT_FILE = Setting[Path | None](
    "SSL_CERT_FILE",
    "ssl_cert_file",
    ca_file,
    None,
    "The standard OpenSSL variable: a PEM file of CAs replacing the system store (checked at"
    " start-up; must be in the real environment, the HTTP client does not read --env-file).",
    documented="system store",
)
COMMON_SETTINGS: tuple[Setting[Any], ...] = (
    INTERVAL,
    DB_PATH,
    TZ,
    LOG_LEVEL,
    LOG_FORMAT,
    SSL_CERT_FILE,
)


@dataclass(frozen=True, kw_only=True)
class CommonSettings:
    """The variables both processes read from their shared `.env`, with the same meaning."""

    interval: float = INTERVAL.default
    db_path: Path = DB_PATH.default
    tz: ZoneInfo = TZ.default
    log_level: str = LOG_LEVEL.default
    log_format: str | None = LOG_FORMAT.default
    ssl_cert_file: Path | None = SSL_CERT_FILE.default
