"""`heartbeat-alerter silence add|list|expire`: the operator's side of the silences table."""

from __future__ import annotations

import argparse
import re
import sys
import time
from datetime import datetime
from fnmatch import fnmatchcase
from zoneinfo import ZoneInfo

import peewee

from alerter.config import AlerterConfig
from hbmon.db import cycles
from hbmon.db import quiet as table
from hbmon.db.connection import open_database
from hbmon.envconfig import EXIT_CONFIG_ERROR

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?[smhdw])+")
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
# Items that exist without a check of their own in a cycle.
FIXED_ITEMS = ("worker", "exporter", "internet", "docker")


class UsageError(Exception):
    """A bad argument found after parsing (a time in the past, an unknown silence id)."""


def duration(text: str) -> float:
    """`90s`, `30m`, `2h`, `1d`, `1w`, or a sum like `1h30m`."""
    if not _DURATION.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration: use a number with s, m, h, d or w, e.g. 2h or 1h30m"
        )
    seconds = sum(float(n) * _UNITS[unit] for n, unit in _PART.findall(text))
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: the duration must be more than 0")
    return seconds


def moment(text: str) -> datetime:
    """An ISO-8601 date and time; without an offset it is read in TZ."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO-8601 time, e.g. 2026-12-01T18:30 or 2026-12-01T18:30+01:00"
        ) from None


def pattern(text: str) -> str:
    """An item name as alerts show it (`api`, `worker`) or an fnmatch glob (`web-*`)."""
    problem = _pattern_problem(text)
    if problem is not None:
        raise argparse.ArgumentTypeError(f"{text!r}: {problem}")
    return text


def _pattern_problem(text: str) -> str | None:
    if not text or any(c.isspace() or not c.isprintable() for c in text):
        return "an item name or glob must be non-empty, without spaces"
    if text.startswith("service:"):
        return f"write the name as alerts show it: {text.removeprefix('service:')!r}"
    if text.count("[") != text.count("]") or re.search(r"\[[^\]]*\[", text):
        return "unbalanced [ ] in the glob"
    return None


def add_arguments(silence: argparse.ArgumentParser) -> None:
    actions = silence.add_subparsers(dest="action", required=True, metavar="{add,list,expire}")
    add = actions.add_parser("add", help="silence an item, or items matching a glob")
    add.add_argument("pattern", type=pattern, help="item name or glob, e.g. api or web-*")
    span = add.add_mutually_exclusive_group(required=True)
    span.add_argument("--for", dest="duration", type=duration, help="e.g. 30m, 2h, 1d")
    span.add_argument("--until", type=moment, help="ISO-8601; read in TZ without an offset")
    add.add_argument("--reason", required=True, help="why (shown by `silence list`)")
    listing = actions.add_parser("list", help="silences in effect or to come")
    listing.add_argument("--all", action="store_true", help="include ended silences")
    expire = actions.add_parser("expire", help="end a silence now")
    expire.add_argument("id", type=int)


def run(args: argparse.Namespace, config: AlerterConfig) -> int:
    """Run one silence action; a bad argument is reported on stderr with exit status 2."""
    if not config.db_path.exists():
        return _fail(f"no database at {config.db_path} (SQLITE_DB_PATH): is this the alerter's?")
    db = open_database(config.db_path)
    try:
        table.migrate(db)
        return int(_ACTIONS[args.action](db, args, config))
    except UsageError as error:
        return _fail(str(error))
    finally:
        db.close()


def _fail(message: str) -> int:
    print(f"heartbeat-alerter silence: error: {message}", file=sys.stderr)
    return EXIT_CONFIG_ERROR


def _add(db: peewee.SqliteDatabase, args: argparse.Namespace, config: AlerterConfig) -> int:
    now = time.time()
    ends_at = now + args.duration if args.duration else _epoch(args.until, config.tz)
    if ends_at <= now:
        raise UsageError(f"--until {args.until.isoformat()} is not in the future")
    reason = " ".join(args.reason.split())
    if not reason:
        raise UsageError("--reason must say why")
    silence_id = table.add_silence(db, args.pattern, starts_at=now, ends_at=ends_at, reason=reason)
    print(f"silence {silence_id}: {args.pattern} until {_local(ends_at, config.tz)}: {reason}")
    matched = sorted(name for name in _known(db) if fnmatchcase(name, args.pattern))
    print(f"matches now: {', '.join(matched)}" if matched else "matches no known item (yet)")
    return 0


def _list(db: peewee.SqliteDatabase, args: argparse.Namespace, config: AlerterConfig) -> int:
    now = time.time()
    rows = table.silences(db, ending_after=0 if args.all else now)
    if not rows:
        print("no silences" if args.all else "no silences in effect")
    for row in rows:
        state = "ended" if row.ends_at <= now else "active"
        period = f"{_local(row.starts_at, config.tz)} → {_local(row.ends_at, config.tz)}"
        print(f"{row.id}\t{row.pattern}\t{state}\t{period}\t{row.reason}")
    return 0


def _expire(db: peewee.SqliteDatabase, args: argparse.Namespace, config: AlerterConfig) -> int:
    now = time.time()
    row = table.expire_silence(db, args.id, now=now)
    if row is None:
        raise UsageError(f"no silence {args.id} (see `heartbeat-alerter silence list --all`)")
    verb = "ended" if row.ends_at == now else "had already ended"
    print(f"silence {row.id} ({row.pattern}) {verb} at {_local(row.ends_at, config.tz)}")
    return 0


_ACTIONS = {"add": _add, "list": _list, "expire": _expire}


def _known(db: peewee.SqliteDatabase) -> set[str]:
    names = set(FIXED_ITEMS)
    newest = cycles.newest_cycle(db) if cycles.tables_exist(db) else None
    if newest is not None:
        names.update(check.name for check in newest.checks)
    return names


def _epoch(when: datetime, tz: ZoneInfo) -> float:
    return (when if when.tzinfo is not None else when.replace(tzinfo=tz)).timestamp()


def _local(epoch: float, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(epoch, tz).isoformat(timespec="seconds")
