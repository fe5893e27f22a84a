"""Command line of `heartbeat-exporter`: run on the grid, `--once`, or `--check-config`."""

from __future__ import annotations

import argparse
import os
import resource
import signal
import sqlite3
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import peewee

from exporter.app import ExporterApp, probing
from exporter.config import ExporterConfig, plaintext_secrets
from exporter.cycle import Cycle
from hbmon import __version__, logs, settings
from hbmon.db import trouble
from hbmon.db.schema import SchemaError
from hbmon.envload import load_or_exit
from hbmon.exporter_settings import EXPORTER_SETTINGS, SERVICE_NAMES, SERVICE_PREFIXES

PROG = "heartbeat-exporter"
_SERVICES_HELP = (
    "\n  "
    + ", ".join([SERVICE_NAMES, *(f"{prefix}<name>" for prefix in SERVICE_PREFIXES)])
    + '\n      The monitored services: see README.md, "Services".'
)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=__doc__,
        epilog=settings.help_text(EXPORTER_SETTINGS) + _SERVICES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true", help="run one cycle now, print a table")
    mode.add_argument("--check-config", action="store_true", help="print the configuration")
    parser.add_argument("--env-file", type=Path, default=Path(".env"), help="default: ./.env")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser.parse_args(argv)


def describe(config: ExporterConfig) -> list[str]:
    """The resolved configuration with every secret left out."""
    lines = settings.describe(config, EXPORTER_SETTINGS)
    lines.append(f"services: {len(config.services)}")
    for spec in config.services:
        headers = ",".join(f"{key}:<redacted>" for key, _ in spec.headers)
        lines.append(
            f"  {spec.name}: {spec.kind} {spec.display_target} method={spec.method}"
            f" dns_override={spec.dns_override} headers={headers or '-'}"
            f" depends_on={spec.depends_on or 'default'}"
        )
    return lines


def warn_plaintext_secrets(config: ExporterConfig) -> None:
    """`INTERNAL_DNS_OVERRIDE_MODE=http` sends a service's secrets in clear: say so, once."""
    log = logs.get_logger("exporter")
    for name in plaintext_secrets(config):
        log.warning(
            "config.plaintext_secrets",
            service=name,
            detail="INTERNAL_DNS_OVERRIDE_MODE=http sends its headers or URL credentials"
            " over plain HTTP",
        )


def raise_fd_limit() -> None:
    """One keep-alive socket per service: 1,000 services need more than the usual 1,024 fds."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def print_table(cycle: Cycle) -> None:
    rows = [("service", "kind", "status", "latency", "reason")]
    for outcome in (*cycle.services,):
        result = outcome.result
        latency = "-" if result.latency_s is None else f"{result.latency_s * 1000:.1f} ms"
        rows.append(
            (
                outcome.spec.name,
                outcome.spec.kind,
                result.status.value,
                latency,
                result.reason or "",
            )
        )
    internet = cycle.internet
    latency = "-" if internet.latency_s is None else f"{internet.latency_s * 1000:.1f} ms"
    rows.append(("(internet)", "http", internet.status.value, latency, internet.reason or ""))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[4]]))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    config = load_or_exit(PROG, ExporterConfig.from_env, args.env_file)
    logs.configure(config.log_level, config.log_format, process="exporter")
    logs.register_secrets(config.secrets)
    warn_plaintext_secrets(config)
    if args.check_config:
        print("\n".join(describe(config)))
        return 0
    raise_fd_limit()
    if args.once:
        return run_once(config)
    return run_forever(config)


def run_once(config: ExporterConfig) -> int:
    with probing(config) as probes:
        cycle = probes.run_cycle(0.0, 0, threading.Event())
    print_table(cycle)
    return 0 if cycle.all_healthy else 1


def open_app(config: ExporterConfig) -> ExporterApp | None:
    """The app over its opened, migrated database; None (one exporter.start_failed line naming
    the reason) when the database cannot be opened, created or migrated."""
    try:
        return ExporterApp(config)
    except SchemaError as error:
        reason, detail = "schema", str(error)
    except (peewee.DatabaseError, sqlite3.Error, OSError) as error:
        reason, detail = trouble.classify(error).value, trouble.describe(error)
    logs.get_logger("exporter").error(
        "exporter.start_failed", reason=reason, error=detail, db=str(config.db_path)
    )
    return None


def run_forever(config: ExporterConfig) -> int:
    log = logs.get_logger("exporter")
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    app = open_app(config)
    if app is None:
        return 1
    try:
        app.serve()
    except OSError as error:
        print(f"{PROG}: cannot listen on {config.listen}: {error.strerror}", file=sys.stderr)
        return 1
    log.info(
        "exporter.started",
        version=__version__,
        services=len(config.services),
        interval_s=config.interval,
        listen=str(config.listen),
        db=str(config.db_path),
    )
    app.run(stop)
    app.close()
    log.info("exporter.stopped")
    # Probe threads may still sit in a network budget or a DNS lookup; they hold nothing we
    # need (the database is closed), so exit now instead of joining them.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
