"""The narrow seam over the Docker SDK: a long-lived engine client and a memoized per-cycle view."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import docker
import requests
from docker.errors import DockerException, NotFound

T = TypeVar("T")

# Any version the SDK accepts: the bootstrap client only makes the unversioned /version call.
_BOOTSTRAP_API_VERSION = "1.24"
_DEFAULT_HOST = "unix:///var/run/docker.sock"  # the SDK's default when DOCKER_HOST is unset
# Transport and API failures, plus an answer of unexpected shape (parsed inside the same call).
_ENGINE_ERRORS = (
    DockerException,
    requests.RequestException,
    OSError,
    LookupError,
    TypeError,
    ValueError,
)


class EngineUnreachable(Exception):
    """The engine gave no usable answer: no socket, refused, timed out, or an API error."""

    @property
    def cause(self) -> str:
        return str(self.args[0]) if self.args else "no answer"


@dataclass(frozen=True)
class ContainerSummary:
    """One row of the engine's container list."""

    id: str
    names: tuple[str, ...]  # without Docker's leading "/"
    state: str  # created, running, paused, restarting, removing, exited, dead


@dataclass(frozen=True)
class ContainerDetails:
    """What an inspect adds to the list: counters, exit status and the latest health check."""

    id: str
    state: str
    exit_code: int
    oom_killed: bool
    restart_count: int
    health: str | None  # starting, healthy, unhealthy; None without a HEALTHCHECK
    health_output: str | None  # raw output of the latest health check run


class ContainerSource(Protocol):
    """The two engine calls a view needs; `DockerEngine` is the real one."""

    def list_containers(self) -> tuple[ContainerSummary, ...]: ...

    def inspect_container(self, container_id: str) -> ContainerDetails | None: ...


class DockerEngine:
    """Thread-safe client of one Docker engine; connects on first use, so it never fails early."""

    def __init__(
        self, docker_host: str | None, *, timeout: float, max_connections: int = 64
    ) -> None:
        self._docker_host = docker_host  # None: the SDK default, unix:///var/run/docker.sock
        self._timeout = timeout  # per engine request (connect, then each read)
        # Room for one pooled connection per probe thread; past it urllib3 logs and discards.
        self._max_connections = max_connections
        self._lock = threading.Lock()
        self._api: Any = None
        self._closed = False

    def view(self) -> DockerView:
        return DockerView(self)

    def list_containers(self) -> tuple[ContainerSummary, ...]:
        return self._call(lambda api: tuple(_summary(row) for row in api.containers(all=True)))

    def inspect_container(self, container_id: str) -> ContainerDetails | None:
        """None when the container is gone (removed since the list call)."""
        try:
            return self._call(lambda api: _details(api.inspect_container(container_id)))
        except _Gone:
            return None

    def close(self) -> None:
        with self._lock:
            self._closed = True
            api, self._api = self._api, None
        if api is not None:
            api.close()

    def _call(self, request: Callable[[Any], T]) -> T:
        api = self._client()
        try:
            return request(api)
        except NotFound as error:
            raise _Gone from error
        except requests.ConnectionError as error:
            self._forget(api)  # reconnect next time through the pre-flight check
            raise EngineUnreachable(_describe(error)) from error
        except _ENGINE_ERRORS as error:
            raise EngineUnreachable(_describe(error)) from error

    def _forget(self, api: Any) -> None:
        with self._lock:
            if self._api is api:
                self._api = None
        api.close()

    def _client(self) -> Any:
        # The lock also makes concurrent first users wait for one connection attempt.
        with self._lock:
            if self._closed:
                raise EngineUnreachable("engine client closed")
            if self._api is None:
                self._api = _connect(self._docker_host, self._timeout, self._max_connections)
            return self._api


class DockerView:
    """One cycle's picture of the engine: the container list is fetched once, on first use."""

    def __init__(self, source: ContainerSource) -> None:
        self._source = source
        self._lock = threading.Lock()
        self._containers: tuple[ContainerSummary, ...] | None = None
        self._failure: str | None = None

    def containers(self) -> tuple[ContainerSummary, ...]:
        """All containers; raises EngineUnreachable, also memoized, when the list call failed."""
        with self._lock:
            if self._containers is None and self._failure is None:
                try:
                    self._containers = self._source.list_containers()
                except EngineUnreachable as error:
                    self._failure = error.cause
            if self._containers is None:
                # A fresh exception per caller: threads must not share one traceback.
                raise EngineUnreachable(self._failure)
            return self._containers

    def running_count(self) -> int | None:
        """Containers in state running (not paused or restarting); None when unreachable."""
        try:
            return sum(1 for c in self.containers() if c.state == "running")
        except EngineUnreachable:
            return None

    def find(self, target: str) -> ContainerSummary | None:
        """Match an exact name or full ID, else a unique ID prefix of at least 12 characters."""
        containers = self.containers()
        for container in containers:
            if target == container.id or target in container.names:
                return container
        if len(target) < 12:
            return None
        matches = [c for c in containers if c.id.startswith(target)]
        return matches[0] if len(matches) == 1 else None

    def inspect(self, container_id: str) -> ContainerDetails | None:
        """Not memoized: each docker probe wants its container's counters as of now."""
        return self._source.inspect_container(container_id)


class _Gone(Exception):
    """The engine answered 404 for a container."""


def _connect(docker_host: str | None, timeout: float, max_connections: int) -> Any:
    """Negotiate the API version like the SDK's "auto", but with proxy lookup off from the start."""
    try:
        _check_unix_socket(docker_host, timeout)
        bootstrap = _api_client(docker_host, _BOOTSTRAP_API_VERSION, timeout, max_connections)
        try:
            version = str(bootstrap.version(api_version=False)["ApiVersion"])
        finally:
            bootstrap.close()
        return _api_client(docker_host, version, timeout, max_connections)
    except _ENGINE_ERRORS as error:
        raise EngineUnreachable(_describe(error)) from error


def _check_unix_socket(docker_host: str | None, timeout: float) -> None:
    """Connect once with a socket we close: the SDK leaks its socket when a unix connect fails."""
    host = docker_host or _DEFAULT_HOST
    if not host.startswith("unix://"):
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect("/" + host.removeprefix("unix://").lstrip("/"))


def _api_client(docker_host: str | None, version: str, timeout: float, pool: int) -> Any:
    api = docker.APIClient(
        base_url=docker_host, version=version, timeout=timeout, max_pool_size=pool
    )
    # With trust_env, requests scans os.environ for proxy settings on every call (milliseconds
    # of CPU with many SERVICE_URL_* variables) and sends a tcp:// engine through HTTP_PROXY.
    api.trust_env = False
    if str(api.base_url).startswith("http://"):
        # For tcp:// the SDK keeps requests' default adapter, whose pool ignores max_pool_size.
        api.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=pool))
    return api


def _summary(row: Mapping[str, Any]) -> ContainerSummary:
    names = tuple(str(name).removeprefix("/") for name in row.get("Names") or ())
    return ContainerSummary(id=str(row["Id"]), names=names, state=str(row.get("State", "")))


def _details(data: Mapping[str, Any]) -> ContainerDetails:
    state = data.get("State") or {}
    health = state.get("Health") or {}
    log = health.get("Log") or []
    return ContainerDetails(
        id=str(data["Id"]),
        state=str(state.get("Status", "")),
        exit_code=int(state.get("ExitCode") or 0),
        oom_killed=bool(state.get("OOMKilled")),
        restart_count=int(data.get("RestartCount") or 0),
        # "none" is the engine's word for a disabled health check.
        health=None if health.get("Status") in (None, "", "none") else str(health["Status"]),
        health_output=str(log[-1].get("Output", "")) if log else None,
    )


def _describe(error: BaseException) -> str:
    text = " ".join(str(error).split())[:200]
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
