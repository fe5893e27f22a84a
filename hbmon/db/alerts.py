"""The alerter's own tables (cursor, debounce state, outbox, heartbeat replies) and migration.

The alerter is the only writer of these tables; it only reads the exporter's tables.
Timestamps are UTC epoch seconds (REAL).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import peewee

from hbmon.db.schema import migrate_component

COMPONENT = "alerter"
SCHEMA_VERSION = 3  # 2: alert_outbox.channel, one row per alert and destination
# 3: alert_items.window_bits, degraded, flapping, changes (degraded and flapping rules)


class OutboxState(StrEnum):
    """`alert_outbox.state`: `pending` rows wait for delivery; all others are final."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # a permanent 4xx answer
    EXPIRED = "expired"  # still undelivered after ALERT_MAX_AGE_SECONDS
    LOGGED = "logged"  # no channel was configured: the alert was only logged


class _Model(peewee.Model):
    class Meta:
        database = None
        legacy_table_names = False


class AlerterCursor(_Model):
    """One row: the id of the last monitoring cycle whose effects were committed."""

    id = peewee.IntegerField(primary_key=True)
    last_cycle_id = peewee.IntegerField()
    updated_at = peewee.FloatField()

    class Meta:
        table_name = "alerter_cursor"


class AlertItem(_Model):
    """Debounce state of one item (`service:<name>`, `worker`, `exporter`)."""

    item = peewee.TextField(primary_key=True)
    kind = peewee.TextField()
    status = peewee.TextField(null=True)  # last observed status
    baseline = peewee.TextField(null=True)  # last non-failing status, None if never seen
    failures = peewee.IntegerField(default=0)
    successes = peewee.IntegerField(default=0)
    alerted = peewee.TextField(null=True)  # the failure status alerted, None when not alerted
    # The last DEGRADED_WINDOW counted observations, bit 0 the newest, 1 = failed.
    window_bits = peewee.IntegerField(default=0, constraints=[peewee.SQL("DEFAULT 0")])
    degraded = peewee.BooleanField(default=False, constraints=[peewee.SQL("DEFAULT 0")])
    flapping = peewee.BooleanField(default=False, constraints=[peewee.SQL("DEFAULT 0")])
    # Comma-separated cycle ids of the latest confirmed changes (flapping rule), "" for none.
    changes = peewee.TextField(default="", constraints=[peewee.SQL("DEFAULT ''")])
    updated_at = peewee.FloatField()

    class Meta:
        table_name = "alert_items"


class AlertOutbox(_Model):
    """Every alert for every destination, in creation order (`seq`), with its delivery state."""

    seq = peewee.AutoField()
    alert_id = peewee.TextField()  # stable id: body `id` and Idempotency-Key
    # `n8n`, `apprise:<hash>`, `alertmanager:<hash>` (the hash of the URL), or `log`
    channel = peewee.TextField(default="n8n", constraints=[peewee.SQL("DEFAULT 'n8n'")])
    item = peewee.TextField()
    event = peewee.TextField()
    cycle_id = peewee.IntegerField(null=True)
    created_at = peewee.FloatField()
    payload = peewee.TextField()  # rendered for its channel at enqueue, the same on every attempt
    state = peewee.TextField(default=OutboxState.PENDING.value)
    attempts = peewee.IntegerField(default=0)
    next_attempt_at = peewee.FloatField()
    last_status_code = peewee.IntegerField(null=True)
    last_error = peewee.TextField(null=True)
    finished_at = peewee.FloatField(null=True)

    class Meta:
        table_name = "alert_outbox"
        indexes = (
            (("alert_id", "channel"), True),
            (("state", "channel", "item", "seq"), False),
            (("state", "finished_at"), False),
        )


class HeartbeatReply(_Model):
    """One heartbeat sent for a cycle and the worker's answer (status_code NULL = unreachable)."""

    id = peewee.AutoField()
    cycle_id = peewee.IntegerField(index=True)
    sent_at = peewee.FloatField(index=True)
    status_code = peewee.IntegerField(null=True)
    error = peewee.TextField(null=True)
    latency_ms = peewee.FloatField(null=True)

    class Meta:
        table_name = "heartbeat_replies"


MODELS: tuple[type[Any], ...] = (AlerterCursor, AlertItem, AlertOutbox, HeartbeatReply)


_V3_ITEM_COLUMNS = (
    "window_bits INTEGER NOT NULL DEFAULT 0",
    "degraded INTEGER NOT NULL DEFAULT 0",
    "flapping INTEGER NOT NULL DEFAULT 0",
    "changes TEXT NOT NULL DEFAULT ''",
)


def _upgrade(database: peewee.SqliteDatabase, current: int) -> None:
    """Version 1 had one destination, the N8N webhook: its rows become `n8n` rows.

    Version 3 adds the degraded and flapping state to existing items: empty window, neither.
    """
    if current < 2:
        database.execute_sql(
            "ALTER TABLE alert_outbox ADD COLUMN channel TEXT NOT NULL DEFAULT 'n8n'"
        )
        database.execute_sql("DROP INDEX IF EXISTS alert_outbox_alert_id")
        database.execute_sql("DROP INDEX IF EXISTS alert_outbox_state_item_seq")
    if current < 3 and database.table_exists("alert_items"):
        for column in _V3_ITEM_COLUMNS:
            database.execute_sql(f"ALTER TABLE alert_items ADD COLUMN {column}")


def migrate(database: peewee.SqliteDatabase) -> None:
    """Bring the alerter's tables to SCHEMA_VERSION in one transaction, or change nothing."""
    migrate_component(database, COMPONENT, SCHEMA_VERSION, MODELS, upgrade=_upgrade)
