"""The loopback HTTP fixture server a scenario's guest fetches from, recording every request for
the checks."""

from __future__ import annotations

import http.server
import threading
from pathlib import Path

# The HTTP server the guest reaches at 10.0.2.2 (QEMU user networking maps it to the host's
# loopback). Bound to 127.0.0.1 only; records every request for the checks.


class Recorder(http.server.SimpleHTTPRequestHandler):
    def log_message(self, fmt, *args):  # requests are recorded, not printed
        pass

    def do_GET(self):
        self.server.requests.append(self.path)
        super().do_GET()

    def do_HEAD(self):
        self.server.requests.append(self.path)
        super().do_HEAD()


class HttpServer:
    def __init__(self, root: Path):
        root.mkdir(parents=True, exist_ok=True)

        def handler(*a, **kw):
            return Recorder(*a, directory=str(root), **kw)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.requests = []
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def requests(self) -> list[str]:
        return list(self.httpd.requests)

