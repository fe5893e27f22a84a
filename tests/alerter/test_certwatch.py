"""Certificate notices through the tail loop on a real database: once, across restarts."""

from __future__ import annotations

import time
from collections.abc import Callable

import peewee

from alerter.certs import DAY
from hbmon.db import quiet
from hbmon.db.checks import check_row
from hbmon.db.checkwriter import CheckWriter
from hbmon.db.cycles import MonitoringCycle
from tests.alerter.conftest import Parts
from tests.alerter.dbutil import outbox_rows


def insert(db: peewee.SqliteDatabase, **not_after: float | None) -> None:
    """One cycle of healthy HTTPS checks whose certificates end at `not_after` (by service)."""
    now = time.time()
    with db.atomic():
        cycle = MonitoringCycle.create(
            started_at=now,
            timestamp_local="",
            internet_status="healthy",
            cycle_duration_ms=1.0,
            completed_at=now,
        )
        checks = [
            check_row(
                cycle_id=cycle.id,
                service_name=name,
                kind="http",
                status="healthy",
                status_code=200,
                tls_cert_expiry=expiry,
            )
            for name, expiry in not_after.items()
        ]
        CheckWriter(db).insert(checks)  # the exporter's writer (the checks storage, issue 12)


def events(parts: Parts) -> list[tuple[str, str]]:
    return [(r[1], r[2]) for r in outbox_rows(parts.db) if r[2].startswith("certificate_")]


def notices(parts: Parts) -> list[tuple[str, float, int]]:
    rows = parts.db.execute_sql("SELECT service, warned_not_after, renewed FROM cert_notices")
    return [tuple(row) for row in rows.fetchall()]


def test_expiring_certificate_alerts_once_across_cycles_and_restarts(
    make_parts: Callable[..., Parts],
) -> None:
    soon, far = time.time() + 3 * DAY, time.time() + 90 * DAY
    first = make_parts()
    first.tailer.step()
    for _ in range(3):
        insert(first.writer, api=soon, web=far, plain=None)
    first.tailer.step()
    assert events(first) == [("api", "certificate_expiring")]
    assert notices(first) == [("api", soon, 0)]
    first.db.close()
    second = make_parts()  # a restarted alerter on the same database
    insert(second.writer, api=soon, web=far, plain=None)
    second.tailer.step()
    assert events(second) == [("api", "certificate_expiring")]
    insert(second.writer, api=far, web=far, plain=None)
    second.tailer.step()
    assert events(second) == [("api", "certificate_expiring"), ("api", "certificate_renewed")]
    assert notices(second) == [("api", soon, 1)]


def test_a_notice_whose_state_was_lost_is_not_enqueued_twice(
    make_parts: Callable[..., Parts],
) -> None:
    soon = time.time() + 3 * DAY
    first = make_parts()
    first.tailer.step()
    insert(first.writer, api=soon)
    first.tailer.step()
    first.db.execute_sql("DELETE FROM cert_notices")  # as if the alerter died before saving it
    first.db.close()
    second = make_parts()
    insert(second.writer, api=soon)
    second.tailer.step()
    assert events(second) == [("api", "certificate_expiring")]  # the same id: one row
    assert notices(second) == [("api", soon, 0)]


def test_removed_service_forgets_its_notice_and_zero_days_turns_notices_off(
    make_parts: Callable[..., Parts],
) -> None:
    soon = time.time() + 3 * DAY
    parts = make_parts()
    parts.tailer.step()
    insert(parts.writer, api=soon)
    insert(parts.writer, web=soon + DAY)
    parts.tailer.step()
    assert notices(parts) == [("web", soon + DAY, 0)]
    off = make_parts(cert_expiry_warn_days=0)
    insert(off.writer, other=soon)
    off.tailer.step()
    assert [name for name, _ in events(off)] == ["api", "web"]


def test_a_silenced_service_certificate_notice_is_held(make_parts: Callable[..., Parts]) -> None:
    parts = make_parts()
    parts.tailer.step()
    now = time.time()
    quiet.add_silence(parts.writer, "api", starts_at=now, ends_at=now + 3600, reason="renewal")
    insert(parts.writer, api=now + 3 * DAY, web=now + 3 * DAY)
    parts.tailer.step()
    assert events(parts) == [("web", "certificate_expiring")]
