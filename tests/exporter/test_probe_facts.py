"""Probe facts are declared once (`Fact`): a fact named like a checks column lands in it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from exporter.config import ServiceSpec
from exporter.cycle import ServiceOutcome
from exporter.probes.base import Fact, FactValue, ProbeResult
from exporter.store import Store
from hbmon.db.cycles import CHECK_FIELDS
from hbmon.status import Status
from tests.exporter.test_store import LIMA, make_cycle

SAMPLE: dict[Fact, FactValue] = {
    Fact.IP_FAMILY: "ipv6",
    Fact.CONNECTION_REUSED: True,
    Fact.TLS_CERT_EXPIRY: 1.9e9,
    Fact.REDIRECTS: 2,
    Fact.FINAL_URL: "https://api.test/final",
    Fact.CONTAINER_STATE: "exited",
    Fact.RESTART_COUNT: 3,
    Fact.EXIT_CODE: 137,
    Fact.ENGINE_ERROR: "refused",
    Fact.DEPENDS_ON: "internet",
    Fact.ADDRESS_CLASS: "public",
    Fact.PRIMARY_IP: "192.0.2.7",
    Fact.UNRESOLVED: True,
}


def test_every_fact_has_a_sample() -> None:
    assert set(SAMPLE) == set(Fact)


def test_each_fact_is_stored_in_its_column_or_in_details(tmp_path: Path) -> None:
    store = Store(tmp_path / "m.db", LIMA)
    spec = ServiceSpec(name="api", kind="http", target="https://api.test/")
    store.write(
        make_cycle(1_700_000_000.0, ServiceOutcome(spec, ProbeResult(Status.DOWN, facts=SAMPLE)))
    )
    store.close()
    with sqlite3.connect(tmp_path / "m.db") as conn:
        conn.row_factory = sqlite3.Row
        row = conn.execute("SELECT * FROM service_checks").fetchone()
    columns = {f.column_name for f in CHECK_FIELDS}
    details = json.loads(row["details"])
    for fact, value in SAMPLE.items():
        if fact in columns:
            assert row[fact] == value, fact
            assert fact not in details
        else:
            assert details[fact] == value, fact
    assert {f for f in Fact if f in columns} == {
        "ip_family",
        "connection_reused",
        "tls_cert_expiry",
        "container_state",
        "restart_count",
        "depends_on",
        "address_class",
    }
