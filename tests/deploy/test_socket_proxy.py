"""The socket-proxy nginx config passes exactly the Docker API calls the exporter makes."""

from __future__ import annotations

import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.conftest import DEPLOY
from tests.support import free_port, wait_for

pytestmark = pytest.mark.usefixtures("docker_engine")


def _status(url: str, method: str = "GET") -> int:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:
            return int(reply.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def _answers(url: str) -> bool:
    try:
        return _status(url) == 200
    except urllib.error.URLError:
        return False


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[str]:
    """nginx with the shipped config, on a loopback port, its temp files under tmp_path."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    port = free_port()
    config = (DEPLOY / "socket-proxy" / "nginx.conf").read_text()
    config = config.replace("listen 2375;", f"listen 127.0.0.1:{port};")
    config = config.replace("/tmp/", f"{tmp_path}/")
    (tmp_path / "nginx.conf").write_text(config)
    # As root here, workers would drop to `nobody`; the container runs nginx as a user
    # holding the socket's group instead. `user root` stands in for that.
    command = [nginx, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-g"]
    command += ["daemon off; user root;"]
    log = tmp_path / "nginx.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: process.poll() is not None or _answers(url + "/_ping"), timeout=10)
        assert process.poll() is None, log.read_text()
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.parametrize(
    "path",
    ["/_ping", "/version", "/v1.41/version", "/v1.41/containers/json?all=1", "/containers/json"],
)
def test_read_calls_the_exporter_makes_pass(proxy: str, path: str) -> None:
    assert _status(proxy + path) == 200


def test_container_inspect_passes(proxy: str, busybox_image: str, container_name: str) -> None:
    run = ["docker", "run", "-d", "--network", "none", "--name", container_name]
    subprocess.run(
        [*run, busybox_image, "sleep", "60"],
        check=True,
        capture_output=True,
    )
    assert _status(f"{proxy}/v1.41/containers/{container_name}/json") == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1.41/containers/create"),
        ("POST", "/v1.41/containers/abc/stop"),
        ("DELETE", "/v1.41/containers/abc"),
        ("GET", "/v1.41/containers/abc/logs"),
        ("GET", "/v1.41/containers/abc/archive?path=/etc"),
        ("GET", "/v1.41/containers/abc/export"),
        ("GET", "/v1.41/images/json"),
        ("GET", "/v1.41/info"),
        ("POST", "/v1.41/exec/abc/start"),
        ("GET", "/v1.41/containers/json/../../info"),
    ],
)
def test_everything_else_is_forbidden(proxy: str, method: str, path: str) -> None:
    assert _status(proxy + path, method) == 403
