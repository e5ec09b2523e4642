"""Shared plumbing for the benchmark scripts: prerequisites, databases, processes, load, tables.

Every benchmark runs against real servers on this machine (PostgreSQL, Redis, gunicorn, uvicorn,
daphne, Celery) and only ever sends traffic to the loopback address. Nothing here is imported by the
product.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
RESULTS_DIR = BENCH_DIR / "results"
PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432").rstrip("/")
# Redis DB 7 belongs to the benchmarks; it is flushed freely.
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")
HOST = "127.0.0.1"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


class BenchError(RuntimeError):
    """A prerequisite or a verification failed; the message says what to do."""


def die(message: str) -> None:
    print(f"\nbench: {message}", file=sys.stderr)
    raise SystemExit(2)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --------------------------------------------------------------------------------------------------
# Prerequisites
# --------------------------------------------------------------------------------------------------


def venv_bin(name: str) -> str:
    """An executable of the interpreter running us (the project's .venv), else from PATH."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if not found:
        raise BenchError(f"`{name}` not found next to {sys.executable} nor on PATH; run with the project's .venv python.")
    return found


def require_python_modules(*names: str) -> None:
    import importlib.util

    missing = [name for name in names if importlib.util.find_spec(name) is None]
    if missing:
        raise BenchError(
            f"Python modules missing: {', '.join(missing)}. Run with the project's virtualenv: "
            f"`.venv/bin/python {Path(sys.argv[0]).name}` (pip install -r requirements.txt)."
        )


def require_executable(name: str, hint: str) -> str:
    path = shutil.which(name)
    if not path:
        raise BenchError(f"`{name}` is not installed. {hint}")
    return path


def require_postgres() -> None:
    import psycopg

    try:
        with psycopg.connect(f"{PG_URL}/postgres", connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        raise BenchError(
            f"PostgreSQL is not reachable at {PG_URL} ({exc}). Start it: "
            "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`."
        ) from exc


def require_redis() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        raise BenchError(
            f"Redis is not reachable at {REDIS_URL} ({exc}). Start it: "
            '`redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no`.'
        ) from exc


def require_port_free(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError as exc:
            raise BenchError(f"Port {port} on {HOST} is in use ({exc}); stop whatever listens there.") from exc


def require_file(path: Path, what: str) -> None:
    if not path.exists():
        raise BenchError(f"{path.relative_to(ROOT)} does not exist yet: {what}")


def machine_busy_percent(seconds: float = 2.0) -> float:
    """How busy the whole machine is (all cores), measured over `seconds`."""
    import psutil

    return psutil.cpu_percent(interval=seconds)


def wait_for_quiet(*, max_wait: float, threshold: float = 15.0) -> float:
    """Wait (up to `max_wait` s) until other work leaves the machine mostly idle; returns the last busy %.

    Other processes on these 2 cores (a test suite, a build) make every figure pessimistic, so the
    benchmarks say how busy the machine was before they started and record it with the results.
    """
    deadline = time.monotonic() + max_wait
    busy = machine_busy_percent()
    while busy > threshold and time.monotonic() < deadline:
        log(f"machine is {busy:.0f}% busy with other work; waiting for it to calm down (≤ {max_wait:.0f} s)")
        busy = machine_busy_percent(5.0)
    if busy > threshold:
        log(f"WARNING: the machine is {busy:.0f}% busy with other processes: figures will be pessimistic")
    BACKGROUND["busy_before_percent"] = round(busy, 1)
    BACKGROUND["loadavg_before"] = os.getloadavg()
    return busy


BACKGROUND: dict[str, Any] = {}


def flush_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


# --------------------------------------------------------------------------------------------------
# Databases and Django environment
# --------------------------------------------------------------------------------------------------


def db_url(name: str) -> str:
    return f"{PG_URL}/{name}"


def db_exists(name: str) -> bool:
    import psycopg

    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def db_create(name: str, *, drop: bool) -> None:
    import psycopg
    from psycopg import sql

    if not name.startswith("bench_"):
        raise BenchError(f"Refusing to touch database {name!r}: benchmark databases are named bench_*.")
    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
        if drop:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def bench_secrets() -> dict[str, str]:
    """Secrets for the benchmark databases, generated once and kept in bench/results (gitignored).

    Kept rather than regenerated so the encrypted page tokens of a reused data set still decrypt.
    """
    import secrets

    from cryptography.fernet import Fernet

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / ".bench-secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    values = {
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "FACEBOOK_APP_SECRET": secrets.token_hex(16),
        "FACEBOOK_VERIFY_TOKEN": secrets.token_hex(8),
    }
    path.write_text(json.dumps(values))
    path.chmod(0o600)
    return values


def django_env(db_name: str, *, settings: str = "config.settings.production", **extra: str) -> dict[str, str]:
    """The environment of a production-shaped process on the benchmark database."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")}
    env.update(bench_secrets())
    env.update(
        DJANGO_SETTINGS_MODULE=settings,
        DATABASE_URL=db_url(db_name),
        REDIS_URL=REDIS_URL,
        CELERY_BROKER_URL=REDIS_URL,
        DJANGO_SECURE_SSL_REDIRECT="0",
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
        DJANGO_LOG_LEVEL="WARNING",
        FACEBOOK_APP_ID="100000000000001",
        PYTHONUNBUFFERED="1",
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


def django_setup_in_process(env: dict[str, str]) -> None:
    """Configure Django inside this process with the same environment the servers get."""
    os.environ.update(env)
    import django

    django.setup()


def manage(env: dict[str, str], *args: str, timeout: float = 600) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args], env=env, cwd=ROOT, capture_output=True, text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise BenchError(f"manage.py {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")


# --------------------------------------------------------------------------------------------------
# Processes: started in their own process group, always stopped (also on error and Ctrl-C)
# --------------------------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    proc: subprocess.Popen
    log_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class ProcessGroup:
    """Starts servers and stops each one by its own process group id, whatever happens."""

    def __init__(self) -> None:
        self.servers: list[Server] = []
        self._old_handlers: dict[int, Any] = {}

    def __enter__(self) -> ProcessGroup:
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._old_handlers[signum] = signal.getsignal(signum)
            signal.signal(signum, self._on_signal)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop_all()
        for signum, handler in self._old_handlers.items():
            signal.signal(signum, handler)

    def _on_signal(self, signum: int, frame: object) -> None:
        # Turn SIGTERM into the same clean exit as Ctrl-C so `finally` blocks stop the servers.
        raise KeyboardInterrupt

    def start(self, name: str, argv: Sequence[str], *, env: dict[str, str]) -> Server:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        log_path = RESULTS_DIR / f"{name}.log"
        log_file = log_path.open("wb")
        proc = subprocess.Popen(
            list(argv), env=env, cwd=ROOT, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log_file.close()
        server = Server(name=name, proc=proc, log_path=log_path)
        self.servers.append(server)
        return server

    def stop(self, server: Server, timeout: float = 10) -> None:
        if server.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGTERM)
            try:
                server.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(server.pid, signal.SIGKILL)
                server.proc.wait(timeout=5)
        # Children that outlived their parent (a worker mid-shutdown) are still in the group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(server.pid, signal.SIGKILL)
        if server in self.servers:
            self.servers.remove(server)

    def stop_all(self) -> None:
        for server in list(reversed(self.servers)):
            self.stop(server)


# How production serves /webhooks/ and /ws/ (docs/serving.md): deploy/bin/asgi, i.e. gunicorn with
# deploy/gunicorn_asgi.conf.py (uvicorn's worker class; gunicorn owns the listening socket). The custom
# launcher it replaced measured the same (docs/serving.md) and is gone.
ASGI_SERVERS = ("gunicorn",)
DEFAULT_ASGI_SERVER = "gunicorn"
GUNICORN_ASGI_CONF = ROOT / "deploy" / "gunicorn_asgi.conf.py"


def asgi_argv(app: str, *, port: int, workers: int = 2, server: str = DEFAULT_ASGI_SERVER,
              lifespan: str = "auto") -> tuple[list[str], dict[str, str]]:
    """The command (and the environment it adds) serving an ASGI app on HOST:port with `workers` uvicorn processes.

    gunicorn: production's own configuration file, with the app, address and worker count given as
    production's scripts give them. gunicorn sets TCP_NODELAY on its listening socket, which accepted
    connections inherit, so an answer written in two parts (start, body) is not held back ~40 ms by
    Nagle (bench/README.md). gunicorn's worker class always runs the lifespan protocol when the app
    speaks it ("auto"), which the floor app needs.
    """
    if server == "gunicorn":
        require_file(GUNICORN_ASGI_CONF, "production's gunicorn configuration for the ASGI workers is missing.")
        return ([venv_bin("gunicorn"), "-c", str(GUNICORN_ASGI_CONF), "--log-level", "warning", app],
                {"ASGI_BIND": f"{HOST}:{port}", "ASGI_WORKERS": str(workers)})
    raise BenchError(f"unknown ASGI server {server!r}: choose from {', '.join(ASGI_SERVERS)}")


def asgi_server_label(server: str, workers: int) -> str:
    return f"gunicorn+uvicorn worker x{workers}"


def asgi_start(group: ProcessGroup, name: str, app: str, *, port: int, workers: int = 2, env: dict[str, str],
               lifespan: str = "auto", server: str = DEFAULT_ASGI_SERVER) -> Server:
    """An ASGI app served as production serves it (asgi_argv), in its own process group."""
    require_port_free(port)
    argv, extra_env = asgi_argv(app, port=port, workers=workers, server=server, lifespan=lifespan)
    return group.start(name, argv, env={**env, **extra_env, "PYTHONPATH": str(ROOT)})


def add_asgi_server_argument(parser: Any) -> None:
    parser.add_argument("--asgi-server", choices=ASGI_SERVERS, default=DEFAULT_ASGI_SERVER,
                        help=f"what serves the ASGI app (default {DEFAULT_ASGI_SERVER}, as production does)")


def wait_http(port: int, path: str, *, server: Server, timeout: float = 30, method: str = "GET") -> None:
    """Wait until the server answers anything on `path` (any status)."""
    import http.client

    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if not server.alive():
            raise BenchError(f"{server.name} exited (code {server.proc.returncode}):\n{server.tail()}")
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            conn.request(method, path)
            conn.getresponse().read()
            conn.close()
            return
        except OSError as exc:
            last_error = exc
            time.sleep(0.2)
    raise BenchError(f"{server.name} did not answer on port {port} within {timeout:.0f}s ({last_error}):\n{server.tail()}")


def wait_celery_ready(server: Server, *, timeout: float = 40) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server.alive():
            raise BenchError(f"{server.name} exited (code {server.proc.returncode}):\n{server.tail()}")
        if "ready." in server.log_path.read_text(errors="replace"):
            return
        time.sleep(0.2)
    raise BenchError(f"{server.name} did not report ready within {timeout:.0f}s:\n{server.tail()}")


class ResourceSampler:
    """Samples RSS (peak) and CPU time of process trees in a background thread."""

    def __init__(self, roots: dict[str, int], interval: float = 0.2) -> None:
        self.roots = roots
        self.interval = interval
        self.peak_rss: dict[str, int] = dict.fromkeys(roots, 0)
        self.peak_rss_single: dict[str, int] = dict.fromkeys(roots, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._lock = threading.Lock()
        self._cpu_seen: dict[str, dict[int, float]] = {}
        self._ticks = 0

    def _tree(self, pid: int) -> list:
        import psutil

        try:
            root = psutil.Process(pid)
            return [root, *root.children(recursive=True)]
        except psutil.Error:
            return []

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds used so far by each process tree, by PostgreSQL's processes and by the whole machine.

        Per process the last value seen by the sampler is kept, so a process that exited (a PostgreSQL
        backend, a recycled worker) still counts up to its last sample: deltas never go negative.
        """
        import psutil

        self._sample_cpu()
        with self._lock:
            out = {name: sum(per_pid.values()) for name, per_pid in self._cpu_seen.items()}
        machine = psutil.cpu_times()
        out["machine"] = machine.user + machine.system + machine.nice + getattr(machine, "softirq", 0) + getattr(
            machine, "irq", 0)
        return out

    def _sample_cpu(self) -> None:
        import psutil

        def cpu(proc) -> float | None:
            try:
                times = proc.cpu_times()
            except psutil.Error:
                return None
            return times.user + times.system

        seen: dict[str, dict[int, float]] = {name: {} for name in self.roots}
        for name, pid in list(self.roots.items()):
            for proc in self._tree(pid):
                value = cpu(proc)
                if value is not None:
                    seen[name][proc.pid] = value
        me = psutil.Process()
        seen["bench"] = {}
        value = cpu(me)
        if value is not None:
            seen["bench"][me.pid] = value  # the load generator itself (not its children: those are the servers)
        seen["postgres"] = {}
        for proc in psutil.process_iter(["name"]):
            if proc.info["name"] in ("postgres", "postmaster"):
                value = cpu(proc)
                if value is not None:
                    seen["postgres"][proc.pid] = value
        with self._lock:
            for name, per_pid in seen.items():
                self._cpu_seen.setdefault(name, {}).update(per_pid)

    @staticmethod
    def cpu_percent(before: dict[str, float], after: dict[str, float], seconds: float) -> dict[str, float]:
        """Percent of one core per key over `seconds` (the machine's figure is out of nproc x 100 %)."""
        return {key: (after[key] - before.get(key, 0.0)) / seconds * 100 for key in after if seconds > 0}

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            for name, pid in list(self.roots.items()):
                total = 0
                for proc in self._tree(pid):
                    with contextlib.suppress(psutil.Error):
                        rss = proc.memory_info().rss
                        total += rss
                        self.peak_rss_single[name] = max(self.peak_rss_single.get(name, 0), rss)
                self.peak_rss[name] = max(self.peak_rss.get(name, 0), total)
            self._ticks += 1
            if self._ticks % 5 == 0:  # CPU bookkeeping once a second is plenty
                self._sample_cpu()
            self._stop.wait(self.interval)

    def __enter__(self) -> ResourceSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


# --------------------------------------------------------------------------------------------------
# Load generation
# --------------------------------------------------------------------------------------------------


@dataclass
class WrkResult:
    requests_per_s: float
    p50_ms: float | None
    p99_ms: float | None
    requests: int
    non_2xx: int
    socket_errors: str
    raw: str = field(repr=False, default="")


_WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Hub-Signature-256"] = "{signature}"
wrk.body = {body}
"""


def _wrk_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not match:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run_wrk(url: str, *, body: bytes, signature: str, connections: int, duration: int, threads: int = 2) -> WrkResult:
    """Saturate `url` with one signed POST body (wrk keeps connections open when the server allows)."""
    wrk = require_executable("wrk", "Install it: `apt-get install -y wrk` (a Debian package).")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    script = RESULTS_DIR / ".wrk-post.lua"
    # A Lua long string holds the body verbatim (Meta's JSON has no "]]" sequence).
    if b"]]" in body:
        raise BenchError("The wrk body must not contain ']]'.")
    script.write_text(_WRK_SCRIPT.format(signature=signature, body="[[" + body.decode("ascii") + "]]"))
    result = subprocess.run(
        [wrk, f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), url],
        capture_output=True, text=True, timeout=duration + 60,
    )
    out = result.stdout
    if result.returncode != 0:
        raise BenchError(f"wrk failed: {result.stderr}\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:(.*)", out)
    return WrkResult(
        requests_per_s=rps, p50_ms=_wrk_ms(p50.group(1)) if p50 else None, p99_ms=_wrk_ms(p99.group(1)) if p99 else None,
        requests=total, non_2xx=int(non2xx.group(1)) if non2xx else 0,
        socket_errors=errors.group(1).strip() if errors else "", raw=out,
    )


class HttpClient:
    """A minimal HTTP/1.1 client over asyncio streams: keep-alive when the server allows, else reconnect.

    Hand-rolled because the virtualenv has no async HTTP library, and requests/urllib add milliseconds
    of client overhead that would blur an ack latency measured in milliseconds.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()
        self._reader = self._writer = None

    async def request(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> int:
        for attempt in (1, 2):
            if self._writer is None:
                self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
                fresh = True
            else:
                fresh = False
            head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", f"Content-Length: {len(body)}"]
            head += [f"{key}: {value}" for key, value in (headers or {}).items()]
            try:
                self._writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
                status_line = await self._reader.readuntil(b"\r\n")
                raw_headers = await self._reader.readuntil(b"\r\n\r\n")
            except (ConnectionError, asyncio.IncompleteReadError):
                await self.close()
                if fresh or attempt == 2:
                    raise
                continue  # a kept-alive connection the server had closed: retry once on a new one
            status = int(status_line.split()[1])
            lowered = raw_headers.decode("latin-1").lower()
            length = re.search(r"^content-length:\s*(\d+)", lowered, re.M)
            if length:
                await self._reader.readexactly(int(length.group(1)))
            elif "transfer-encoding: chunked" in lowered:
                while True:
                    size = int((await self._reader.readuntil(b"\r\n")).split(b";")[0], 16)
                    await self._reader.readexactly(size + 2)
                    if size == 0:
                        break
            else:
                await self._reader.read()  # body until close
                await self.close()
                return status
            if re.search(r"^connection:\s*close", lowered, re.M) or status_line.startswith(b"HTTP/1.0"):
                await self.close()
            return status
        raise AssertionError("unreachable")


async def steady_rate(
    port: int, path: str, requests: Sequence[tuple[bytes, dict[str, str]]], *, rate: float, concurrency_cap: int = 200
) -> tuple[list[float], dict[int, int]]:
    """Open-loop load: request i is due at start + i/rate whatever the earlier ones do.

    Latency is measured from the due time (so a stalled server cannot hide its queueing: no
    coordinated omission) to the end of the response. Returns (latencies in ms, status counts).
    """
    loop = asyncio.get_running_loop()
    idle: list[HttpClient] = []
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    semaphore = asyncio.Semaphore(concurrency_cap)

    async def one(body: bytes, headers: dict[str, str], due: float) -> None:
        async with semaphore:
            client = idle.pop() if idle else HttpClient(HOST, port)
            try:
                status = await client.request("POST", path, body, headers)
            except (OSError, asyncio.IncompleteReadError):
                status = 0
                await client.close()
            latencies.append((loop.time() - due) * 1000)
            statuses[status] = statuses.get(status, 0) + 1
            idle.append(client)

    start = loop.time() + 0.05
    tasks = []
    for index, (body, headers) in enumerate(requests):
        due = start + index / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(body, headers, due)))
    await asyncio.gather(*tasks)
    for client in idle:
        await client.close()
    return latencies, statuses


async def closed_loop(
    port: int, path: str, requests: Iterable[tuple[bytes, dict[str, str]]], *, concurrency: int,
    on_done: Callable[[int], None] | None = None,
) -> dict[int, int]:
    """Send every request as fast as `concurrency` connections allow; returns status counts."""
    queue: asyncio.Queue = asyncio.Queue()
    for item in requests:
        queue.put_nowait(item)
    statuses: dict[int, int] = {}

    async def worker() -> None:
        client = HttpClient(HOST, port)
        try:
            while True:
                try:
                    body, headers = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                for _attempt in range(5):
                    try:
                        status = await client.request("POST", path, body, headers)
                    except (OSError, asyncio.IncompleteReadError):
                        status = 0
                        await client.close()
                        await asyncio.sleep(0.05)
                        continue
                    if status < 500:
                        break
                    await asyncio.sleep(0.05)  # Meta retries a failed delivery; so do we
                statuses[status] = statuses.get(status, 0) + 1
                if on_done is not None:
                    on_done(status)
        finally:
            await client.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return statuses


# --------------------------------------------------------------------------------------------------
# Figures, tables, results
# --------------------------------------------------------------------------------------------------


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (no interpolation: p99 of 4,000 samples is the 3,960th value)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-pct * len(ordered) // 100))))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value != value:  # NaN
            return "—"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


@dataclass
class Row:
    """One line of a results table: a measured figure next to its target."""

    bench: str
    metric: str
    value: Any
    unit: str = ""
    target: str = ""
    ok: bool | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"bench": self.bench, "metric": self.metric, "value": self.value, "unit": self.unit,
                "target": self.target, "ok": self.ok}


def print_table(rows: Sequence[Row], title: str = "") -> None:
    headers = ("bench", "metric", "value", "target", "ok")
    cells = [
        (row.bench, row.metric, f"{fmt(row.value)} {row.unit}".strip(), row.target,
         "" if row.ok is None else ("PASS" if row.ok else "MISS"))
        for row in rows
    ]
    widths = [max(len(headers[i]), *(len(cell[i]) for cell in cells)) if cells else len(headers[i]) for i in range(5)]
    line = "  ".join("-" * width for width in widths)
    if title:
        print(f"\n{title}")
    print(line)
    print("  ".join(header.ljust(width) for header, width in zip(headers, widths, strict=True)))
    print(line)
    for cell in cells:
        print("  ".join(
            (text.rjust(width) if index == 2 else text.ljust(width))
            for index, (text, width) in enumerate(zip(cell, widths, strict=True))
        ))
    print(line, flush=True)


def machine_info() -> dict[str, Any]:
    cpu_model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        mem_kb = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
    return {
        "nproc": os.cpu_count(), "cpu_model": cpu_model, "ram_gib": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(), "platform": platform.platform(),
    }


def write_results(name: str, rows: Sequence[Row], extra: dict[str, Any] | None = None) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    payload = {
        "bench": name, "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": machine_info(),
        "background": {**BACKGROUND, "loadavg_after": os.getloadavg()},
        "rows": [row.as_dict() for row in rows], **(extra or {}),
    }
    path.write_text(json.dumps(payload, indent=2, default=str))
    return path


def exit_code(rows: Sequence[Row], *, strict: bool) -> int:
    """0 when the run completed (misses are in the table); 3 with --strict when a target was missed."""
    missed = [row for row in rows if row.ok is False]
    if missed:
        print(f"{len(missed)} target(s) missed: " + "; ".join(f"{r.bench} {r.metric}" for r in missed))
    return 3 if strict and missed else 0


def add_common_arguments(parser: Any, *, wait_quiet: float = 60) -> None:
    parser.add_argument("--wait-quiet", type=float, default=wait_quiet,
                        help=f"wait up to N s for other work on the machine to stop (default {wait_quiet:.0f})")
    parser.add_argument("--strict", action="store_true", help="exit 3 when a target is missed")


def main_guard(run: Callable[[], int]) -> None:
    """Run a benchmark: a clear message on a failed prerequisite, 130 on Ctrl-C."""
    try:
        code = run()
    except BenchError as exc:
        die(str(exc))
    except KeyboardInterrupt:
        print("\nbench: interrupted; servers stopped.", file=sys.stderr)
        raise SystemExit(130) from None
    raise SystemExit(code)
