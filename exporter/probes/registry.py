"""The one name-to-function map of probe kinds; a new kind is one module plus one entry here."""

from __future__ import annotations

from collections.abc import Mapping

from exporter.probes import docker, http
from exporter.probes.base import ProbeFn, StartFn

PROBES: Mapping[str, ProbeFn] = {"http": http.probe, "docker": docker.probe}
# Kinds the cycle starts on the shared engine instead of on a probe thread.
STARTERS: Mapping[str, StartFn] = {"http": http.start}
