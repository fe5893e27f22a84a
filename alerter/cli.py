"""`heartbeat-alerter`: parse the configuration once, then run until SIGTERM/SIGINT (or manage
silences with `heartbeat-alerter silence ...`)."""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from alerter import silencecmd
from alerter.app import Alerter
from alerter.config import AlerterConfig, plaintext_urls
from hbmon import __version__
from hbmon.alerter_settings import ALERTER_SETTINGS
from hbmon.db.trouble import classify
from hbmon.db.trouble import describe as describe_error
from hbmon.envload import load_or_exit
from hbmon.logs import configure, get_logger, register_secrets
from hbmon.settings import describe, help_text


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="heartbeat-alerter",
        description="Tail the heartbeat-monitor database, debounce, deliver alerts, heartbeat.",
        epilog=help_text(ALERTER_SETTINGS),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--check-config",
        action="store_true",
        help="print the resolved configuration (secrets redacted) and exit",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--env-file", type=Path, default=Path(".env"), help="default: ./.env")
    commands = parser.add_subparsers(dest="command", metavar="silence")
    silencecmd.add_arguments(
        commands.add_parser("silence", help="add, list or expire silences (maintenance)")
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    config = load_or_exit("heartbeat-alerter", AlerterConfig.from_env, args.env_file)
    if args.command == "silence":
        return silencecmd.run(args, config)
    register_secrets(config.secrets)
    configure(config.log_level, config.log_format, process="alerter")
    for variable in plaintext_urls(config):
        get_logger("alerter").warning(
            "config.plaintext_url",
            variable=variable,
            detail="plain http:// to a host off this machine:"
            " its secret path and token travel in clear",
        )
    if args.check_config:
        print("\n".join(describe(config, ALERTER_SETTINGS)))
        return 0
    return run(config)


def run(config: AlerterConfig) -> int:
    log = get_logger("alerter")
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("alerter.stopping", signal=signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        alerter = Alerter(config)
    except Exception as exc:  # opening or migrating the database: say why, no traceback
        log.error("alerter.start_failed", reason=classify(exc).value, error=describe_error(exc))
        return 1
    return 0 if alerter.run(stop) else 1
