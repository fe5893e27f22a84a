"""The /metrics contract: names, labels, one-hot status, lint-clean, removed services vanish."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

from prometheus_client import generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from exporter.config import ServiceSpec
from exporter.cycle import ServiceOutcome
from exporter.exposition import Exposition
from exporter.metrics import CycleCollector
from exporter.probes.base import ProbeResult
from hbmon.status import Status
from tests.exporter.test_store import http_outcome, make_cycle


def samples(collector: CycleCollector) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = Exposition(collector).scrape().decode()
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def docker_outcome(name: str, status: Status) -> ServiceOutcome:
    spec = ServiceSpec(name=name, kind="docker", target=name)
    return ServiceOutcome(spec, ProbeResult(status, latency_s=0.003, reason="exited (code 1)"))


def test_service_metrics_follow_the_last_cycle() -> None:
    collector = CycleCollector("1.2.3")
    collector.publish(make_cycle(1000.0, http_outcome("api"), docker_outcome("db", Status.HEALTHY)))
    found = samples(collector)
    assert found[("heartbeat_service_up", (("kind", "http"), ("service", "api")))] == 0.0
    assert found[("heartbeat_service_up", (("kind", "docker"), ("service", "db")))] == 1.0
    one_hot = {
        labels[1][1]: value
        for (name, labels), value in found.items()
        if name == "heartbeat_service_status" and labels[0] == ("service", "api")
    }
    assert one_hot == {s.value: float(s is Status.ERROR) for s in Status}
    assert found[("heartbeat_service_http_status_code", (("service", "api"),))] == 503
    assert found[("heartbeat_service_latency_seconds", (("service", "api"),))] == 0.0421
    assert (
        found[("heartbeat_service_phase_seconds", (("phase", "tls"), ("service", "api")))] == 0.002
    )
    assert found[("heartbeat_service_ip_family", (("service", "api"),))] == 4.0
    assert (
        found[("heartbeat_service_tls_cert_expiry_timestamp_seconds", (("service", "api"),))]
        == 1.9e9
    )
    assert found[("heartbeat_last_cycle_timestamp_seconds", ())] == 1000.0
    assert found[("heartbeat_cycles_total", ())] == 1.0
    assert found[("heartbeat_internet_up", ())] == 1.0
    assert found[("heartbeat_build_info", (("version", "1.2.3"),))] == 1.0
    assert ("heartbeat_docker_containers_running", ()) not in found  # unknown, not -1


def test_removed_service_disappears_from_metrics() -> None:
    collector = CycleCollector("1")
    collector.publish(make_cycle(1000.0, http_outcome("api"), http_outcome("old")))
    collector.publish(make_cycle(1010.0, http_outcome("api")))
    services = {labels for (_, labels) in samples(collector) if ("service", "old") in labels}
    assert services == set()


def test_counters_accumulate_cycles_and_skipped_ticks() -> None:
    collector = CycleCollector("1")
    collector.publish(make_cycle(1000.0))
    late = make_cycle(1030.0)
    collector.publish(type(late)(**{**late.__dict__, "skipped_ticks": 2}))
    found = samples(collector)
    assert found[("heartbeat_cycles_total", ())] == 2.0
    assert found[("heartbeat_skipped_ticks_total", ())] == 2.0


def test_before_the_first_cycle_only_process_metrics_exist() -> None:
    names = {name for name, _ in samples(CycleCollector("1"))}
    assert names == {
        "heartbeat_build_info",
        "heartbeat_cycles_total",
        "heartbeat_skipped_ticks_total",
    }


def test_promtool_check_metrics_is_clean(promtool: str) -> None:
    collector = CycleCollector("1.2.3")
    collector.publish(make_cycle(1000.0, http_outcome("api"), docker_outcome("db", Status.DOWN)))
    text = Exposition(collector).scrape()
    done = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout + done.stderr == b""


class _Reference(Collector):
    """The per-service families as prometheus_client itself would write them."""

    def __init__(self, outcome: ServiceOutcome) -> None:
        self._outcome = outcome

    def collect(self) -> Iterator[GaugeMetricFamily]:
        name = self._outcome.spec.name
        up = GaugeMetricFamily("heartbeat_service_up", "x", labels=["service", "kind"])
        up.add_metric([name, self._outcome.spec.kind], 0.0)
        yield up


def test_service_lines_escape_names_exactly_as_prometheus_client_does() -> None:
    name = 'we"ird\\name\nwith ünïcode'
    outcome = http_outcome(name)
    collector = CycleCollector("1")
    collector.publish(make_cycle(1000.0, outcome))
    text = Exposition(collector).scrape()
    reference = generate_latest(_Reference(outcome)).decode().splitlines()[-1]
    assert reference.encode() in text.splitlines()
    assert ("heartbeat_service_up", (("kind", "http"), ("service", name))) in samples(collector)
