"""Process-wide structlog set-up: JSON or console events, with secrets redacted."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterable, MutableMapping
from typing import Any

import structlog

REDACTED = "***"
_SECRET_KEYS = frozenset({"authorization", "headers", "secret_key", "token", "password", "cookie"})
_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def register_secrets(values: Iterable[str]) -> None:
    """Values that must never appear in any log line (header values, keys, webhook URLs)."""
    with _secrets_lock:
        _secrets.update(v for v in values if len(v) >= 6)


def redact_text(text: str) -> str:
    with _secrets_lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def _redact_value(key: str, value: Any) -> Any:
    if key.lower() in _SECRET_KEYS:
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value("", v) for v in value]
    return value


def redact_processor(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        event_dict[key] = _redact_value(key, event_dict[key])
    return event_dict


def configure(level: str = "info", fmt: str | None = None, *, process: str) -> None:
    """Configure structlog once per process; `fmt` None picks console on a TTY, else JSON."""
    use_json = (fmt or ("console" if sys.stderr.isatty() else "json")) == "json"
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_processor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(process=process)


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
