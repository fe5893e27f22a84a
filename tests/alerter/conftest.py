"""Fixtures for alerter tests: in-process parts wired to a real SQLite file in tmp_path."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import peewee
import pytest

from alerter.app import build_parts
from alerter.config import AlerterConfig
from alerter.delivery.channels.registry import destinations, http_client
from alerter.delivery.prune import Pruner
from alerter.delivery.sender import Sender
from alerter.heartbeat import Heartbeater
from alerter.stats import Stats
from alerter.tail import Tailer
from hbmon.envconfig import ListenAddress
from hbmon.net import HttpClient
from tests.alerter.dbutil import alerter_db, exporter_db

FAST = {
    "retry_base": 0.05,
    "retry_max": 0.2,
    "webhook_timeout": 2.0,
    "down_threshold": 1,
    # Delivery tests replay many down/up transitions of one item: no flapping rule unless a
    # test asks for it (tests/alerter/test_flapping*.py do).
    "flap_changes": 1000,
    "host_label": "test-host",
    "listen": ListenAddress("127.0.0.1", 0),
}


@dataclass
class Parts:
    """The alerter's parts, built by `alerter.app.build_parts` as the process builds them."""

    db: peewee.SqliteDatabase
    writer: peewee.SqliteDatabase  # writes cycles through a second connection, like the exporter
    config: AlerterConfig
    stats: Stats
    tailer: Tailer
    senders: tuple[Sender, ...]
    pruner: Pruner
    heartbeater: Heartbeater
    client: HttpClient
    stop: threading.Event = dataclasses.field(default_factory=threading.Event)
    threads: list[threading.Thread] = dataclasses.field(default_factory=list)

    @property
    def sender(self) -> Sender:
        """The sender of the only (or first) destination."""
        return self.senders[0]

    def run_senders(self) -> None:
        for sender in self.senders:
            thread = threading.Thread(target=sender.run, args=(self.stop,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def close(self) -> None:
        self.stop.set()
        for sender in self.senders:
            sender.wake.set()
        for thread in self.threads:
            thread.join(10)
        self.tailer.watch.close()
        self.client.close()
        self.db.close()
        self.writer.close()


@pytest.fixture
def make_parts(tmp_path: Path) -> Iterator[Callable[..., Parts]]:
    built: list[Parts] = []

    def make(**overrides: Any) -> Parts:
        config = dataclasses.replace(
            AlerterConfig(db_path=tmp_path / "metrics.db"), **{**FAST, **overrides}
        )
        db = alerter_db(config.db_path)
        writer = exporter_db(config.db_path)  # the exporter's own connection, as in production
        client = http_client(config.net)
        built_parts = build_parts(config, db, client, destinations(config, client))
        parts = Parts(
            db,
            writer,
            config,
            built_parts.stats,
            built_parts.tailer,
            built_parts.senders,
            built_parts.pruner,
            built_parts.heartbeater,
            client,
        )
        built.append(parts)
        return parts

    yield make
    for parts in built:
        parts.close()
