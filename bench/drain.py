"""The worker's drain alone, in this process: CPU per applied message, and where it goes.

Stores a Meta-shaped workload as pending webhook events (no HTTP), then times
`webhook_events_drain()` (batches, bulk inserts, one push per batch to the Redis channel layer)
on a fresh PostgreSQL database `bench_drain` with production settings. Prints messages/s and CPU
ms per message; `--profile` adds cProfile's top functions (the profile slows it ~2x).

    .venv/bin/python bench/drain.py [--messages 6000] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common as c

DB_NAME = "bench_drain"


def run(args: argparse.Namespace) -> int:
    from bench import ingest

    c.require_postgres()
    c.require_redis()
    c.flush_redis()
    env = c.django_env(DB_NAME)
    ingest.setup_database(env, DB_NAME)

    from bench._payloads import SIGNATURE_HEADER, message_workload
    from inbox.models import ChatMessage, WebhookEvent
    from inbox.services.webhooks import webhook_events_drain

    work = message_workload(messages=args.messages, contacts=max(1, args.messages // 10),
                            secret=env["FACEBOOK_APP_SECRET"])
    WebhookEvent.objects.bulk_create(
        [WebhookEvent(body=body, signature=headers[SIGNATURE_HEADER]) for body, headers in work.requests]
    )
    c.wait_for_quiet(max_wait=args.wait_quiet)
    c.log(f"draining {len(work.requests):,} stored events carrying {len(work.mids):,} messages")
    profile = cProfile.Profile() if args.profile else None
    wall, cpu = time.perf_counter(), time.process_time()
    if profile:
        profile.enable()
    drained = webhook_events_drain(seconds=1e9)
    if profile:
        profile.disable()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    stored = ChatMessage.objects.count()
    rows = [
        c.Row("drain", "events drained", drained, "", f"= {len(work.requests):,}", drained == len(work.requests)),
        c.Row("drain", "messages stored", stored, "", f"= {len(work.mids):,}", stored == len(work.mids)),
        c.Row("drain", "messages/s, one process" + (" (profiled)" if profile else ""), stored / wall, "/s"),
        c.Row("drain", "CPU per message, this process", cpu * 1000 / max(1, stored), "ms"),
    ]
    c.print_table(rows, "The drain in one process")
    c.write_results("drain", rows, {"wall_s": wall, "cpu_s": cpu, "profiled": bool(profile)})
    if profile:
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(30)
        print(out.getvalue())
    return c.exit_code(rows, strict=args.strict)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=6000)
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions")
    c.add_common_arguments(parser, wait_quiet=30)
    args = parser.parse_args()
    c.main_guard(lambda: run(args))


if __name__ == "__main__":
    main()
