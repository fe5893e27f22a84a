"""Host metrics read through psutil: CPU since the previous sample, memory, disk and uptime."""

from __future__ import annotations

import time
from dataclasses import dataclass

import psutil


@dataclass(frozen=True)
class HostSample:
    cpu_ratio: float
    memory_ratio: float
    memory_used_bytes: int
    disk_ratio: float | None
    uptime_seconds: float


class HostSampler:
    """Non-blocking sampler: CPU usage is measured between two consecutive `sample()` calls."""

    def __init__(self, disk_path: str) -> None:
        self._disk_path = disk_path
        psutil.cpu_percent(interval=None)  # first call only starts the measurement window

    def sample(self) -> HostSample:
        cpu = psutil.cpu_percent(interval=None)
        memory = psutil.virtual_memory()
        try:
            disk_ratio: float | None = psutil.disk_usage(self._disk_path).percent / 100.0
        except OSError:
            disk_ratio = None
        return HostSample(
            cpu_ratio=cpu / 100.0,
            memory_ratio=memory.percent / 100.0,
            memory_used_bytes=int(memory.total - memory.available),
            disk_ratio=disk_ratio,
            uptime_seconds=max(time.time() - psutil.boot_time(), 0.0),
        )
