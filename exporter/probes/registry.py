"""The one name-to-function map of probe kinds; a new kind is one module plus one entry here."""

from __future__ import annotations

from collections.abc import Mapping

from exporter.probes import docker, http
from exporter.probes.base import ProbeFn

PROBES: Mapping[str, ProbeFn] = {"http": http.probe, "docker": docker.probe}
