"""Shared core of heartbeat-monitor: configuration readers, logging, statuses and the database."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("heartbeat-monitor")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
