"""A stand-in Graph API on loopback for the benchmarks: profile lookups must never leave this machine.

Answers every GET/POST with a small profile-shaped JSON at once; GET /__calls returns how many it served.
Runs as its own process so it never shares a GIL with a load generator.

    .venv/bin/python -m bench._graph_stub --port 18029
"""

from __future__ import annotations

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

_calls = 0
_lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        global _calls
        path = urlparse(self.path).path
        if path == "/__calls":
            self._answer({"calls": _calls})
            return
        with _lock:
            _calls += 1
        user_id = path.rstrip("/").rsplit("/", 1)[-1]
        self._answer({"id": user_id, "first_name": "Customer", "last_name": user_id[-4:]})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.do_GET()

    def log_message(self, *args: object) -> None:
        pass


def calls(port: int) -> int:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/__calls", timeout=5) as response:
        return json.loads(response.read())["calls"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
