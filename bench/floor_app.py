"""The ingest floor: the barest endpoint that stores a POST, with no framework at all.

A raw ASGI app that reads the body, INSERTs it (the body only) into one table through psycopg's
async pool in autocommit and answers an empty 200: no signature check, no Django, no wake-up. Served
exactly like our endpoint (gunicorn with deploy/gunicorn_asgi.conf.py: uvicorn's worker class, 2
workers). Our endpoint's acks/s are reported as a share of this one's, measured in the same run
(docs/quality-targets.md).

    .venv/bin/python bench/floor_app.py            # serve it and measure it alone
    .venv/bin/python -m bench.floor_app serve      # just serve it (BENCH_FLOOR_DSN)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TABLE = "bench_floor_events"
PATH = "/webhooks/facebook/"

_pool = None


async def _startup() -> None:
    global _pool
    from psycopg_pool import AsyncConnectionPool

    # Same shape as a tuned production pool: a few connections per worker, autocommit (one round trip).
    _pool = AsyncConnectionPool(
        os.environ["BENCH_FLOOR_DSN"], min_size=4, max_size=16, kwargs={"autocommit": True}, open=False
    )
    await _pool.open(wait=True)


async def _respond(send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def app(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await _startup()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if _pool is not None:
                    await _pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    if scope["method"] != "POST" or scope["path"] != PATH:
        await _respond(send, 404 if scope["path"] != PATH else 405, b"")
        return
    chunks = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    async with _pool.connection() as conn:
        await conn.execute(f"INSERT INTO {TABLE} (body) VALUES (%s)", (body,))
    await _respond(send, 200, b"")


# --------------------------------------------------------------------------------------------------
# Running it (used by ingest.py too)
# --------------------------------------------------------------------------------------------------


def floor_prepare(dsn: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            f"DROP TABLE IF EXISTS {TABLE}"
        )
        conn.execute(f"CREATE TABLE {TABLE} (id bigserial PRIMARY KEY, body bytea NOT NULL)")


def floor_count(dsn: str) -> int:
    import psycopg

    with psycopg.connect(dsn) as conn:
        return conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0]


def http_implementation() -> str:
    """What uvicorn will pick: httptools/uvloop when installed (uvicorn[standard]), else h11/asyncio."""
    import importlib.util

    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    return f"{http}+{loop}"


def floor_start(group, *, dsn: str, port: int, workers: int = 2, server: str | None = None):
    from bench import _common as c

    c.require_port_free(port)
    floor_prepare(dsn)
    env = {**os.environ, "BENCH_FLOOR_DSN": dsn}
    # gunicorn's config imports nothing of Django, but a settings module keeps any import of the config
    # package (whose Celery app requires one, config/entrypoints.py) working; the floor never loads it.
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
    server = c.asgi_start(group, "floor-web", "bench.floor_app:app", port=port, workers=workers, env=env,
                          lifespan="on", server=server or c.DEFAULT_ASGI_SERVER)
    c.wait_http(port, PATH, server=server, timeout=30)
    return server


def main() -> int:
    from bench import _common as c

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=15, help="seconds of wrk saturation (default 15)")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--port", type=int, default=18010)
    c.add_common_arguments(parser)
    c.add_asgi_server_argument(parser)
    args = parser.parse_args()

    c.require_python_modules("psycopg", "psycopg_pool", "uvicorn")
    c.require_executable("wrk", "Install it: `apt-get install -y wrk` (a Debian package).")
    c.require_postgres()
    db = "bench_floor"
    c.db_create(db, drop=False)
    dsn = c.db_url(db)
    secret = c.bench_secrets()["FACEBOOK_APP_SECRET"]
    from bench._payloads import sample_body

    body = sample_body()
    from sandbox.payloads import sign

    rows: list[c.Row] = []
    with c.ProcessGroup() as group:
        floor_start(group, dsn=dsn, port=args.port, server=args.asgi_server)
        c.wait_for_quiet(max_wait=args.wait_quiet)
        url = f"http://{c.HOST}:{args.port}{PATH}"
        c.log(f"floor: steady 200 req/s for 10 s ({http_implementation()})")
        requests = [(body, {"Content-Type": "application/json", "X-Hub-Signature-256": sign(body, secret)})] * 2000
        latencies, statuses = asyncio.run(c.steady_rate(args.port, PATH, requests, rate=200))
        c.log(f"floor: wrk -c{args.connections} for {args.duration} s")
        result = c.run_wrk(url, body=body, signature=sign(body, secret), connections=args.connections,
                           duration=args.duration)
        stored = floor_count(dsn)
    rows += [
        c.Row("floor", "ack p50 @200/s", c.percentile(latencies, 50), "ms"),
        c.Row("floor", "ack p99 @200/s", c.percentile(latencies, 99), "ms"),
        c.Row("floor", "non-200 @200/s", sum(v for k, v in statuses.items() if k != 200)),
        c.Row("floor", f"acks/s wrk -c{args.connections}", result.requests_per_s, "/s"),
        c.Row("floor", "wrk p99", result.p99_ms, "ms"),
        c.Row("floor", "wrk non-2xx", result.non_2xx),
        c.Row("floor", "rows stored", stored),
    ]
    c.print_table(rows, f"Ingest floor (raw ASGI + psycopg async pool, INSERT of the body, empty 200; "
                        f"{c.asgi_server_label(args.asgi_server, 2)}, "
                        f"{http_implementation()}), body "
                        f"{len(body)} bytes")
    path = c.write_results("floor", rows, {"http_implementation": http_implementation(), "wrk": result.raw})
    print(f"results: {path.relative_to(c.ROOT)}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        _parser = argparse.ArgumentParser()
        _parser.add_argument("mode")
        _parser.add_argument("--port", type=int, default=18010)
        _parser.add_argument("--workers", type=int, default=2)
        _parser.add_argument("--asgi-server", default=None)
        _args = _parser.parse_args()
        from bench import _common as c

        _argv, _env = c.asgi_argv("bench.floor_app:app", port=_args.port, workers=_args.workers,
                                  server=_args.asgi_server or c.DEFAULT_ASGI_SERVER, lifespan="on")
        os.execve(_argv[0], _argv, {**os.environ, **_env})
    else:
        from bench._common import main_guard

        main_guard(main)
