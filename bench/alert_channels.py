"""Alert channels benchmark: latency p50/p95 per channel with all three configured, the alerter's
RSS, and what `apprise` adds to import and start-up time; prints a table.

The real alerter delivers every alert to an N8N webhook receiver, an Apprise `json://` receiver
and an Alertmanager stand-in (a receiver on `/api/v2/alerts`: it measures the alerter, not
Alertmanager). Latency runs from the COMMIT of the cycle that confirms a transition to the moment
the receiver has read the body. One service alternates down/healthy with
STATUS_CHANGE_THRESHOLD=1. Targets (issue 11): RSS <= 60 MB with all three channels.

Usage: python bench/alert_channels.py [--transitions 50] [--gap 0.3] [--starts 7]
Traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.alert_latency import percentile, status_kb  # noqa: E402
from tests.alerter.dbutil import exporter_db, insert_cycle  # noqa: E402
from tests.alerter.proc import alerter_env, start  # noqa: E402
from tests.alerter.receiver import Receiver, receiving  # noqa: E402
from tests.support import wait_for  # noqa: E402

AM_PATH = "/api/v2/alerts"
IMPORT_APPRISE = (
    "import time; t = time.perf_counter(); "
    "from alerter.delivery.channels.apprise_channel import describe; "
    "describe('json://127.0.0.1:9/x'); print(time.perf_counter() - t)"
)
IMPORT_ALL_PLUGINS = (  # what Apprise's own lookup would cost instead
    "import time, warnings; warnings.simplefilter('ignore'); t = time.perf_counter(); "
    "import apprise; apprise.Apprise.instantiate('json://127.0.0.1:9/x'); "
    "print(time.perf_counter() - t)"
)


def am_key(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


def latencies(
    n8n: Receiver, apprise: Receiver, am: Receiver, committed: list[tuple[int, float, float]]
) -> dict[str, list[float]]:
    """Per channel, ms from commit to arrival; Apprise bodies carry no id, so they go in order."""
    by_cycle = {cycle: at for cycle, _, at in committed}
    by_start = {am_key(started): at for _, started, at in committed}
    result = {
        "n8n": [(r.at - by_cycle[r.json()["cycle_id"]]) * 1000 for r in n8n.accepted],
        "apprise": [
            (r.at - c[2]) * 1000 for r, c in zip(apprise.accepted, committed, strict=False)
        ],
        "alertmanager": [],
    }
    for request in am.accepted:
        for alert in request.json():
            result["alertmanager"].append((request.at - by_start[alert["startsAt"]]) * 1000)
    return result


def run_alerter(transitions: int, gap: float) -> tuple[dict[str, list[float]], float, float]:
    with (
        tempfile.TemporaryDirectory() as tmp,
        receiving() as n8n,
        receiving(path="/notify") as apprise,
        receiving(path=AM_PATH) as am,
    ):
        tmp_path = Path(tmp)
        writer = exporter_db(tmp_path / "metrics.db")
        env = alerter_env(
            tmp_path,
            N8N_WEBHOOK_URL=n8n.url,
            APPRISE_URLS=apprise.url.replace("http://", "json://"),
            ALERTMANAGER_URLS=am.url.removesuffix(AM_PATH),
            STATUS_CHANGE_THRESHOLD="1",
            LOOP_INTERVAL_SECONDS="3600",
            LOG_LEVEL="warning",
        )
        alerter = start(tmp_path, env)
        alerter.wait_ready()
        committed = []
        for index in range(transitions):
            started = time.time()
            status = "down" if index % 2 == 0 else "healthy"
            cycle_id = insert_cycle(writer, {"api": status}, started_at=started)
            committed.append((cycle_id, started, time.time()))
            time.sleep(gap)
        wait_for(
            lambda: min(len(n8n.accepted), len(apprise.accepted), len(am.accepted)) >= transitions,
            timeout=60,
        )
        time.sleep(1.0)
        pid = alerter.popen.pid
        rss, peak = status_kb(pid, "VmRSS") / 1024, status_kb(pid, "VmHWM") / 1024
        alerter.terminate()
        writer.close()
        return latencies(n8n, apprise, am, committed), rss, peak


def import_seconds(code: str, runs: int) -> float:
    """Median, in a fresh interpreter each time: what APPRISE_URLS adds before the first send."""
    times = [
        float(
            subprocess.run(
                [sys.executable, "-c", code],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        for _ in range(runs)
    ]
    return statistics.median(times)


def start_seconds(runs: int, **extra: str) -> float:
    """Median time from spawning the alerter to its first 200 on /healthz."""
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            tmp_path = Path(tmp)
            exporter_db(tmp_path / "metrics.db").close()
            began = time.monotonic()
            alerter = start(tmp_path, alerter_env(tmp_path, LOG_LEVEL="warning", **extra))
            alerter.wait_ready()
            times.append(time.monotonic() - began)
            alerter.terminate()
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transitions", type=int, default=50)
    parser.add_argument("--gap", type=float, default=0.3, help="seconds between cycles")
    parser.add_argument("--starts", type=int, default=7, help="runs of each start-up timing")
    args = parser.parse_args()
    per_channel, rss, peak = run_alerter(args.transitions, args.gap)
    rows = []
    for channel, values in per_channel.items():
        p50, p95 = statistics.median(values), percentile(values, 0.95)
        rows.append(
            (f"latency {channel} (n={len(values)})", f"p50 {p50:.1f} ms, p95 {p95:.1f} ms", "")
        )
    rows.append(
        ("alerter RSS, 3 channels (peak)", f"{rss:.1f} MB ({peak:.1f} MB)", "target <= 60 MB")
    )
    ours = import_seconds(IMPORT_APPRISE, args.starts)
    everything = import_seconds(IMPORT_ALL_PLUGINS, args.starts)
    rows.append(("import apprise + json plugin", f"{ours * 1000:.0f} ms", "median, fresh process"))
    rows.append(("same, Apprise's own lookup", f"{everything * 1000:.0f} ms", "all plugins"))
    without = start_seconds(args.starts)
    with_apprise = start_seconds(args.starts, APPRISE_URLS="json://127.0.0.1:9/x")
    rows.append(("start to /healthz, no channel", f"{without * 1000:.0f} ms", "median"))
    rows.append(("start to /healthz, APPRISE_URLS set", f"{with_apprise * 1000:.0f} ms", "median"))
    width = max(len(r[0]) for r in rows)
    value_width = max(len(r[1]) for r in rows)
    print(f"{'metric'.ljust(width)}  {'value'.ljust(value_width)}  note")
    for name, value, note in rows:
        print(f"{name.ljust(width)}  {value.ljust(value_width)}  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
