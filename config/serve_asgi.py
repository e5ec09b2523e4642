"""Serve an ASGI app with uvicorn in N worker processes sharing one listening socket.

    python -m config.serve_asgi --workers 2 --host 127.0.0.1 --port 8001 config.asgi:application

Production serves ``/webhooks/`` and ``/ws/`` this way (README "Running the production stack");
the benchmarks use it for our endpoint and for the floor (bench/floor_app.py).

Why not ``uvicorn --workers N``: uvicorn 0.54 creates that shared socket as
``socket.socket(AF_INET)`` (protocol 0), so asyncio never sets ``TCP_NODELAY`` on the accepted
connections, and every response, written in two parts (start, body), waits ~40 ms for the client's
delayed ACK (Nagle). This launcher creates the socket with ``IPPROTO_TCP`` (TCP_NODELAY as in
single-process uvicorn), starts the workers with the descriptor, restarts a worker that dies, and
stops them all on SIGTERM/SIGINT. Workers exit when the launcher is gone.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time

RESTART_DELAY = 1.0
# A worker that dies this soon after its start counts as a failed start; after this many in a row
# (an import error, a bad setting) the launcher gives up instead of restarting forever.
QUICK_EXIT_SECONDS, QUICK_EXITS_MAX = 5.0, 5


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m config.serve_asgi", description=__doc__.split("\n\n")[0])
    parser.add_argument("app", help="the ASGI app, module:attribute (e.g. config.asgi:application)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--backlog", type=int, default=2048)
    parser.add_argument("--http", default="auto", help="auto (httptools when installed), httptools or h11")
    parser.add_argument("--loop", default="auto", help="auto (uvloop when installed), uvloop or asyncio")
    parser.add_argument("--lifespan", default="auto", choices=("auto", "on", "off"))
    parser.add_argument("--log-level", default="warning")
    parser.add_argument("--access-log", action="store_true", help="log every request (off by default)")
    parser.add_argument("--forwarded-allow-ips", default="127.0.0.1",
                        help="proxies whose X-Forwarded-For/-Proto are trusted (default 127.0.0.1)")
    parser.add_argument("--timeout-keep-alive", type=int, default=5)
    parser.add_argument("--timeout-graceful-shutdown", type=int, default=10)
    parser.add_argument("--worker-fd", type=int, default=-1, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def listening_socket(host: str, port: int, backlog: int) -> socket.socket:
    """A TCP listening socket created with IPPROTO_TCP, inheritable by the workers."""
    family, type_, proto, _name, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, type_, proto or socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


def _worker_argv(args: argparse.Namespace, fd: int) -> list[str]:
    argv = [sys.executable, "-m", "config.serve_asgi", args.app, "--worker-fd", str(fd),
            "--http", args.http, "--loop", args.loop, "--lifespan", args.lifespan, "--log-level", args.log_level,
            "--forwarded-allow-ips", args.forwarded_allow_ips, "--timeout-keep-alive", str(args.timeout_keep_alive),
            "--timeout-graceful-shutdown", str(args.timeout_graceful_shutdown)]
    if args.access_log:
        argv.append("--access-log")
    return argv


def serve(args: argparse.Namespace) -> int:
    """The launcher: owns the socket, starts and restarts the workers, stops them on a signal."""
    sock = listening_socket(args.host, args.port, args.backlog)
    argv = _worker_argv(args, sock.fileno())
    stopping = threading.Event()
    children: list[subprocess.Popen] = []
    started: dict[int, float] = {}

    def start() -> subprocess.Popen:
        child = subprocess.Popen(argv, pass_fds=(sock.fileno(),))  # noqa: S603 (our own interpreter)
        started[child.pid] = time.monotonic()
        return child

    def stop(signum: int, frame: object) -> None:
        stopping.set()
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    children.extend(start() for _ in range(args.workers))
    print(f"serve_asgi: {args.app} on {args.host}:{args.port}, {args.workers} workers "
          f"(pids {', '.join(str(c.pid) for c in children)})", file=sys.stderr, flush=True)
    quick_exits = 0
    while not stopping.is_set():
        for index, child in enumerate(children):
            code = child.poll()
            if code is not None and not stopping.is_set():
                quick = time.monotonic() - started.pop(child.pid, 0.0) < QUICK_EXIT_SECONDS
                quick_exits = quick_exits + 1 if quick else 0
                if quick_exits >= QUICK_EXITS_MAX:
                    print("serve_asgi: workers keep exiting at start; giving up", file=sys.stderr, flush=True)
                    stop(signal.SIGTERM, None)
                    break
                print(f"serve_asgi: worker {child.pid} exited with {code}; starting another", file=sys.stderr,
                      flush=True)
                time.sleep(RESTART_DELAY)
                if not stopping.is_set():
                    children[index] = start()
        stopping.wait(0.5)
    deadline = time.monotonic() + args.timeout_graceful_shutdown + 5
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    sock.close()
    return 1 if quick_exits >= QUICK_EXITS_MAX else 0


def _exit_with_parent(parent: int) -> None:
    """A worker whose launcher is gone (killed with SIGKILL) stops instead of serving on alone."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="serve-asgi-parent-watch", daemon=True).start()


def worker(args: argparse.Namespace) -> int:
    import uvicorn

    sys.path.insert(0, os.getcwd())  # as `uvicorn module:app` does
    sock = socket.socket(fileno=args.worker_fd)  # family, type and proto (IPPROTO_TCP) read from the descriptor
    _exit_with_parent(os.getppid())
    config = uvicorn.Config(
        args.app, http=args.http, loop=args.loop, lifespan=args.lifespan, log_level=args.log_level,
        access_log=args.access_log, proxy_headers=True, forwarded_allow_ips=args.forwarded_allow_ips,
        timeout_keep_alive=args.timeout_keep_alive, timeout_graceful_shutdown=args.timeout_graceful_shutdown,
    )
    uvicorn.Server(config).run(sockets=[sock])
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return worker(args) if args.worker_fd >= 0 else serve(args)


if __name__ == "__main__":
    raise SystemExit(main())
