"""Container health check: exit 0 when the process's own /healthz answers 200, else 1.

Usage: healthcheck.py LISTEN_VARIABLE DEFAULT_LISTEN, e.g. `EXPORTER_LISTEN 0.0.0.0:9877`.
Standard library only, so the runtime image needs no curl or wget.
"""

import os
import sys
import urllib.error
import urllib.request

_LOOPBACK = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1", "*": "127.0.0.1"}


def healthz_url(listen: str) -> str:
    """The loopback URL of /healthz for a `host:port` listen address (wildcards -> loopback)."""
    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    host = _LOOPBACK.get(host, host)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/healthz"


def main(argv: list[str]) -> int:
    variable, default = argv
    url = healthz_url(os.environ.get(variable) or default)
    try:
        with urllib.request.urlopen(url, timeout=4) as reply:  # noqa: S310 (fixed http URL)
            return 0 if reply.status == 200 else 1
    except (urllib.error.URLError, OSError) as error:
        print(f"{url}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
