"""The ASGI server production runs (deploy/bin/asgi: gunicorn with uvicorn's worker class) answers a
response written in two parts without waiting for the client's delayed ACK (~40 ms, Nagle).

gunicorn sets TCP_NODELAY on its listening socket and Linux hands it to every accepted connection;
`uvicorn --workers N` does not, which is why a custom launcher (config/serve_asgi.py) once existed
(docs/serving.md). The control case shows the measurement sees the stall when it is there.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench import _common as c

ROOT = Path(__file__).resolve().parents[2]
STALL_MS = 20  # a delayed ACK costs ~40 ms; an answer on loopback takes well under 5


async def two_part_app(scope, receive, send) -> None:
    """Start and body in two writes, as Django's and the webhook fast path's answers are."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _median_ms(argv: list[str], port: int, extra_env: dict[str, str], requests: int = 30) -> float:
    """Median time of `requests` GETs on one kept-alive connection to the server `argv` starts."""
    env = {**os.environ, **extra_env, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(argv, env=env, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, f"{argv[0]} exited with {server.returncode}"
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, f"nothing listens on {port} after 30 s"
                time.sleep(0.1)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        times = []
        for _ in range(requests):
            start = time.perf_counter()
            conn.request("GET", "/")
            conn.getresponse().read()
            times.append((time.perf_counter() - start) * 1000)
        conn.close()
        return statistics.median(times)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)


def test_productions_asgi_server_does_not_stall_two_part_answers() -> None:
    port = _free_port()
    argv, extra = c.asgi_argv("bench.tests.test_asgi_server:two_part_app", port=port, workers=2, server="gunicorn")
    assert "deploy/gunicorn_asgi.conf.py" in " ".join(argv)  # production's own configuration
    assert _median_ms(argv, port, extra) < STALL_MS


def test_the_same_measurement_sees_the_stall_of_uvicorns_own_workers() -> None:
    """The control: `uvicorn --workers 2` on asyncio's loop, whose shared socket lacks TCP_NODELAY. If
    this fails, uvicorn no longer stalls and the reason for avoiding it is gone (docs/serving.md)."""
    port = _free_port()
    argv = [sys.executable, "-m", "uvicorn", "--workers", "2", "--loop", "asyncio", "--port", str(port),
            "--log-level", "warning", "bench.tests.test_asgi_server:two_part_app"]
    assert _median_ms(argv, port, {}) > STALL_MS


pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="TCP_NODELAY inheritance is Linux's behaviour")
