"""The engine seam against the real engine: memoized views, concurrency, failures and proxies."""

from __future__ import annotations

import logging
import os
import select
import socket
import socketserver
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from functools import partial
from urllib.parse import urlsplit

import pytest
import requests

from exporter.dockerengine import (
    ContainerDetails,
    ContainerSummary,
    DockerEngine,
    DockerView,
    EngineUnreachable,
)
from exporter.probes.docker import NOT_FOUND, UNREACHABLE
from hbmon.status import Status
from tests.exporter.test_docker_probe import docker, probe_in, run
from tests.support import free_port, wait_for


class CountingSource:
    """Our seam, wrapped to count the engine calls a view makes."""

    def __init__(self, inner: DockerEngine) -> None:
        self.inner = inner
        self.lists = 0
        self.inspects = 0
        self._lock = threading.Lock()

    def list_containers(self) -> tuple[ContainerSummary, ...]:
        with self._lock:
            self.lists += 1
        return self.inner.list_containers()

    def inspect_container(self, container_id: str) -> ContainerDetails | None:
        with self._lock:
            self.inspects += 1
        return self.inner.inspect_container(container_id)


class _Pipe(socketserver.BaseRequestHandler):
    server: UnixRelay

    def handle(self) -> None:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as upstream:
            upstream.connect(self.server.socket_path)
            peers = {self.request: upstream, upstream: self.request}
            while not self.server.stopping.is_set():
                readable, _, _ = select.select(list(peers), [], [], 0.1)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peers[sock].sendall(data)


class UnixRelay(socketserver.ThreadingTCPServer):
    """Loopback TCP in front of the engine's unix socket: the real engine as a tcp:// host."""

    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, port: int, socket_path: str) -> None:
        super().__init__(("127.0.0.1", port), _Pipe)
        self.socket_path = socket_path
        self.stopping = threading.Event()


@contextmanager
def relay(port: int) -> Iterator[str]:
    """Serve the engine on tcp://127.0.0.1:port for the duration of the block."""
    host = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if not host.startswith("unix://"):
        pytest.skip("the TCP relay needs a unix-socket engine")
    server = UnixRelay(port, urlsplit(host).path)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{port}"
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def engine_via(transport: str) -> Iterator[DockerEngine]:
    """An engine client over the unix socket, or over loopback TCP through the relay."""
    with ExitStack() as stack:
        host = os.environ.get("DOCKER_HOST")
        if transport == "tcp":
            host = stack.enter_context(relay(free_port()))
        engine = DockerEngine(host, timeout=10.0)
        stack.callback(engine.close)
        yield engine


@pytest.fixture
def engine(docker_engine: None) -> Iterator[DockerEngine]:
    engine = DockerEngine(os.environ.get("DOCKER_HOST"), timeout=10.0)
    yield engine
    engine.close()


def running_states() -> list[str]:
    return docker("ps", "-a", "--format", "{{.State}}").split()


@pytest.mark.parametrize(
    "docker_host", ["unix:///nonexistent/docker.sock", "tcp://127.0.0.1:{closed_port}"]
)
def test_unreachable_engine_gives_unknown_and_no_running_count(docker_host: str) -> None:
    engine = DockerEngine(docker_host.format(closed_port=free_port()), timeout=1.0)
    view = engine.view()

    result = probe_in(view, "anything")

    assert (result.status, result.reason) == (Status.UNKNOWN, UNREACHABLE)
    assert result.facts["engine_error"]
    assert view.running_count() is None
    engine.close()


def test_unreachable_engine_is_asked_once_per_view() -> None:
    engine = DockerEngine("unix:///nonexistent/docker.sock", timeout=1.0)
    source = CountingSource(engine)
    view = DockerView(source)

    results = [probe_in(view, f"c{i}") for i in range(5)]
    engine.close()

    assert {r.status for r in results} == {Status.UNKNOWN}
    assert view.running_count() is None
    assert (source.lists, source.inspects) == (1, 0)


def test_silent_engine_times_out_within_the_engine_timeout() -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:
        engine = DockerEngine(f"tcp://127.0.0.1:{silent.getsockname()[1]}", timeout=0.3)
        result = probe_in(engine.view(), "anything")
        engine.close()

    assert result.status is Status.UNKNOWN
    assert "timed out" in str(result.facts["engine_error"]).lower()
    assert result.latency_s is not None
    assert result.latency_s < 2


def test_closed_engine_gives_unknown() -> None:
    engine = DockerEngine(None, timeout=1.0)
    engine.close()

    assert probe_in(engine.view(), "anything").status is Status.UNKNOWN
    with pytest.raises(EngineUnreachable, match="closed"):
        engine.list_containers()


@pytest.mark.docker
def test_engine_is_reconnected_after_it_appears_and_after_an_outage(busybox_image: str) -> None:
    port = free_port()
    engine = DockerEngine(f"tcp://127.0.0.1:{port}", timeout=5.0)
    counts = [engine.view().running_count()]
    with relay(port):
        counts.append(engine.view().running_count())
    counts.append(engine.view().running_count())
    with relay(port):
        counts.append(engine.view().running_count())
    engine.close()

    assert [isinstance(count, int) for count in counts] == [False, True, False, True]
    assert counts[0] is None
    assert counts[2] is None


@pytest.mark.docker
def test_running_count_counts_only_running_containers(
    engine: DockerEngine, busybox_image: str, container_name: str
) -> None:
    run(container_name, busybox_image)
    paused, exited = f"{container_name}-p", f"{container_name}-x"
    try:
        run(paused, busybox_image)
        docker("pause", paused)
        run(exited, busybox_image, command=("true",))
        wait_for(
            lambda: docker("inspect", "-f", "{{.State.Status}}", exited) == "exited", timeout=20
        )

        # Other tests may start containers meanwhile: accept a count bracketed by two equal ones.
        def stable_count() -> tuple[int, list[str]] | None:
            before, count, after = running_states(), engine.view().running_count(), running_states()
            return (count or 0, before) if before == after else None

        count, states = wait_for(stable_count, timeout=30)
    finally:
        docker("rm", "-f", paused, exited)

    assert {"running", "paused", "exited"} <= set(states)
    assert count == states.count("running")


@pytest.mark.docker
def test_view_lists_containers_once_for_all_probes(
    engine: DockerEngine, busybox_image: str, container_name: str
) -> None:
    run(container_name, busybox_image)
    source = CountingSource(engine)
    view = DockerView(source)

    results = [probe_in(view, container_name) for _ in range(3)]
    results.append(probe_in(view, f"{container_name}-missing"))
    view.running_count()

    assert [r.status for r in results] == [Status.HEALTHY] * 3 + [Status.DOWN]
    assert (source.lists, source.inspects) == (1, 3)


@pytest.mark.docker
@pytest.mark.parametrize("transport", ["unix", "tcp"])
def test_many_threads_share_one_view(
    transport: str, busybox_image: str, container_name: str
) -> None:
    exited = f"{container_name}-x"
    run(container_name, busybox_image)
    run(exited, busybox_image, command=("sh", "-c", "exit 4"))
    wait_for(lambda: "exited" in docker("inspect", "-f", "{{.State.Status}}", exited), timeout=20)
    targets = [container_name, exited, f"{container_name}-missing"] * 16
    start = threading.Barrier(len(targets))

    def probe_after_barrier(view: DockerView, target: str) -> tuple[Status, str | None]:
        start.wait()
        result = probe_in(view, target)
        return result.status, result.reason

    try:
        with engine_via(transport) as engine:
            source = CountingSource(engine)
            view = DockerView(source)
            with ThreadPoolExecutor(len(targets)) as pool:
                outcomes = list(pool.map(partial(probe_after_barrier, view), targets))
    finally:
        docker("rm", "-f", exited)

    expected = [(Status.HEALTHY, None), (Status.DOWN, "exited (code 4)"), (Status.DOWN, NOT_FOUND)]
    assert outcomes == expected * 16
    assert (source.lists, source.inspects) == (1, 32)


@pytest.mark.docker
@pytest.mark.parametrize("transport", ["unix", "tcp"])
def test_concurrent_probe_threads_fit_in_the_connection_pool(
    transport: str, busybox_image: str, container_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    container_id = run(container_name, busybox_image)
    start = threading.Barrier(48)

    def inspect(engine: DockerEngine) -> str | None:
        start.wait()
        found = engine.inspect_container(container_id)
        return found.state if found else None

    with (
        engine_via(transport) as engine,
        caplog.at_level(logging.WARNING),
        ThreadPoolExecutor(48) as pool,
    ):
        states = list(pool.map(inspect, [engine] * 48))

    assert states == ["running"] * 48
    assert not [r for r in caplog.records if "pool is full" in r.getMessage()]


@pytest.mark.docker
def test_engine_ignores_proxy_variables(
    busybox_image: str, container_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    run(container_name, busybox_image)
    with socket.create_server(("127.0.0.1", 0)) as proxy, relay(free_port()) as docker_host:
        proxy.setblocking(False)
        proxy_url = f"http://127.0.0.1:{proxy.getsockname()[1]}"
        for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
            monkeypatch.setenv(name, proxy_url)
        for name in ("no_proxy", "NO_PROXY"):
            monkeypatch.delenv(name, raising=False)

        engine = DockerEngine(docker_host, timeout=5.0)
        result = probe_in(engine.view(), container_name)
        engine.close()
        with pytest.raises(BlockingIOError):
            proxy.accept()

        # Control: a plain requests call in this environment does go to the proxy.
        with pytest.raises(requests.RequestException):
            requests.get(docker_host.replace("tcp", "http") + "/version", timeout=0.5)
        accepted, _ = proxy.accept()
        accepted.close()

    assert result.status is Status.HEALTHY
