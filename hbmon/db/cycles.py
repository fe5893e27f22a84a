"""The exporter's tables (`monitoring_cycles`, `service_checks`): the input of the alerter.

The exporter is the only writer of these tables. Timestamps are UTC epoch seconds (REAL);
`timestamp_local` is a human-facing ISO-8601 string with the offset of `TZ`.
"""

from __future__ import annotations

from typing import Any

import peewee
from playhouse.sqlite_ext import AutoIncrementField


class _Model(peewee.Model):
    class Meta:
        database = None
        legacy_table_names = False


class MonitoringCycle(_Model):
    # AUTOINCREMENT: ids never repeat, even after retention deleted every row (the alerter's
    # cursor is a cycle id).
    id = AutoIncrementField()
    started_at = peewee.FloatField(index=True)  # UTC epoch seconds of the grid tick
    timestamp_local = peewee.TextField()
    cpu_percent = peewee.FloatField(null=True)
    ram_percent = peewee.FloatField(null=True)
    ram_used_mb = peewee.FloatField(null=True)
    disk_percent = peewee.FloatField(null=True)
    uptime_seconds = peewee.IntegerField(null=True)
    container_count = peewee.IntegerField(null=True)  # NULL when Docker is unreachable
    internet_status = peewee.TextField()
    ping_ms = peewee.FloatField(null=True)
    cycle_duration_ms = peewee.FloatField()
    skipped_ticks = peewee.IntegerField(default=0)
    # The exporter's LOOP_INTERVAL_SECONDS: the alerter judges freshness by it, not by its own.
    interval_seconds = peewee.FloatField(null=True)
    completed_at = peewee.FloatField()

    class Meta:
        table_name = "monitoring_cycles"


class ServiceCheck(_Model):
    id = peewee.AutoField()
    cycle = peewee.ForeignKeyField(
        MonitoringCycle, column_name="cycle_id", backref="checks", on_delete="CASCADE"
    )
    service_name = peewee.TextField()
    kind = peewee.TextField()  # http | docker
    status = peewee.TextField()
    status_code = peewee.IntegerField(null=True)
    latency_ms = peewee.FloatField(null=True)
    error_message = peewee.TextField(null=True)
    ip_family = peewee.TextField(null=True)
    connection_reused = peewee.BooleanField(null=True)
    dns_ms = peewee.FloatField(null=True)
    connect_ms = peewee.FloatField(null=True)
    tls_ms = peewee.FloatField(null=True)
    ttfb_ms = peewee.FloatField(null=True)
    tls_cert_expiry = peewee.FloatField(null=True)  # notAfter, UTC epoch seconds
    container_state = peewee.TextField(null=True)
    restart_count = peewee.IntegerField(null=True)
    details = peewee.TextField(null=True)  # JSON object of further probe facts

    class Meta:
        table_name = "service_checks"
        indexes = ((("service_name", "cycle"), False),)


MODELS: tuple[type[Any], ...] = (MonitoringCycle, ServiceCheck)
