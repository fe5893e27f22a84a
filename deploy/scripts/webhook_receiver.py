"""A loopback HTTP receiver for deploy tests: appends each POST to a JSON-lines file.

Usage: webhook_receiver.py OUTPUT_FILE PORT_FILE
Binds 127.0.0.1 on a free port and writes the port to PORT_FILE. Every POST becomes one line
`{"path": ..., "headers": {...}, "body": <parsed JSON or text>}` in OUTPUT_FILE and gets 200;
every GET gets 200 "ok" (it doubles as the exporter's PING_URL). Stops on SIGTERM.
"""

import json
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class _Handler(BaseHTTPRequestHandler):
    output: Path
    lock = threading.Lock()

    def do_GET(self) -> None:
        self._reply(b"ok\n")

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body: Any
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        record = {"path": self.path, "headers": dict(self.headers.items()), "body": body}
        with self.lock, self.output.open("a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")
        self._reply(b'{"ok": true}\n')

    def _reply(self, payload: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        return


def main(argv: list[str]) -> int:
    output, port_file = (Path(a) for a in argv)
    _Handler.output = output
    output.touch()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    port_file.write_text(str(server.server_address[1]))
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
