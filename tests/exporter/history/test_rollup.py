"""Rollup maths: counts, failures per status, histogram quantiles, merging, the blob format."""

from __future__ import annotations

import random

import pytest

from exporter.history.rollup import (
    BOUNDS_MS,
    BUCKETS,
    Rollup,
    combined,
    decode_buckets,
    encode_buckets,
    uptime,
)
from hbmon.status import Status


def rollup_of(samples: list[tuple[Status, float | None]]) -> Rollup:
    r = Rollup()
    for status, latency in samples:
        r.add(status, latency)
    return r


def test_counts_failures_per_status_and_starting_is_not_a_failure() -> None:
    r = rollup_of(
        [
            (Status.HEALTHY, 10.0),
            (Status.DOWN, None),
            (Status.TIMEOUT, 2000.0),
            (Status.DOWN, None),
            (Status.STARTING, None),
        ]
    )
    assert r.checks == 5
    assert r.failures == {Status.DOWN: 2, Status.TIMEOUT: 1}
    assert r.failed == 3
    assert (r.latency_count, r.latency_sum_ms) == (2, 2010.0)
    assert (r.latency_min_ms, r.latency_max_ms) == (10.0, 2000.0)


def test_zero_latency_is_a_real_minimum() -> None:
    r = rollup_of([(Status.HEALTHY, 5.0), (Status.HEALTHY, 0.0), (Status.HEALTHY, 3.0)])
    assert (r.latency_min_ms, r.latency_max_ms) == (0.0, 5.0)


@pytest.mark.parametrize("q", [0.5, 0.95, 0.99])
@pytest.mark.parametrize("scale", [0.3, 4.0, 60.0, 900.0])
def test_quantiles_are_within_one_bucket_of_the_exact_value(q: float, scale: float) -> None:
    rng = random.Random(int(q * 100 + scale))
    values = sorted(rng.lognormvariate(0, 0.6) * scale for _ in range(2000))
    r = rollup_of([(Status.HEALTHY, v) for v in values])
    exact = values[int(q * len(values)) - 1]
    estimate = r.quantile(q)
    assert estimate is not None
    below = max((b for b in BOUNDS_MS if b < exact), default=0.0)
    above = min((b for b in BOUNDS_MS if b >= exact), default=max(values))
    assert below <= estimate <= above


def test_quantile_of_one_sample_is_that_sample_and_none_without_latency() -> None:
    assert rollup_of([(Status.HEALTHY, 42.0)]).quantile(0.95) == 42.0
    assert rollup_of([(Status.DOWN, None)]).quantile(0.5) is None
    assert rollup_of([(Status.HEALTHY, 99999.0)]).quantile(0.5) == 99999.0


def test_merging_hours_equals_adding_every_sample_to_a_day() -> None:
    rng = random.Random(7)
    samples = [
        (rng.choice([Status.HEALTHY, Status.HEALTHY, Status.DOWN]), rng.uniform(0, 400))
        for _ in range(600)
    ]
    hours = [rollup_of(samples[i : i + 100]) for i in range(0, 600, 100)]
    day = combined(hours)
    direct = rollup_of(samples)
    assert day.checks == direct.checks
    assert day.failures == direct.failures
    assert day.buckets == direct.buckets
    assert day.latency_sum_ms == pytest.approx(direct.latency_sum_ms)
    assert (day.latency_min_ms, day.latency_max_ms) == (
        direct.latency_min_ms,
        direct.latency_max_ms,
    )


def test_merging_an_empty_hour_changes_nothing() -> None:
    r = rollup_of([(Status.HEALTHY, 3.0)])
    r.merge(Rollup())
    assert (r.checks, r.latency_min_ms, r.latency_max_ms) == (1, 3.0, 3.0)


@pytest.mark.parametrize(
    ("hours", "expected"),
    [
        ([], None),  # a window before the first cycle or beyond retention
        ([Rollup()], None),  # an hour with no cycle
        ([rollup_of([(Status.HEALTHY, 1.0)] * 3), Rollup()], 1.0),
        ([rollup_of([(Status.HEALTHY, 1.0)] * 3), rollup_of([(Status.DOWN, None)])], 0.75),
    ],
)
def test_uptime_counts_checks_not_hours(hours: list[Rollup], expected: float | None) -> None:
    assert uptime(hours) == expected


def test_bucket_blob_round_trips_and_stays_small() -> None:
    buckets = [0] * BUCKETS
    buckets[3], buckets[4], buckets[BUCKETS - 1] = 300, 60_000, 1
    blob = encode_buckets(buckets)
    assert decode_buckets(blob) == buckets
    assert len(blob) <= 9
    assert encode_buckets([0] * BUCKETS) == b""


@pytest.mark.parametrize("blob", [b"\x80", b"\x01", bytes([BUCKETS, 1])])
def test_a_damaged_blob_is_refused(blob: bytes) -> None:
    with pytest.raises(ValueError):
        decode_buckets(blob)
