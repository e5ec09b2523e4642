"""The worker's drain alone, in this process: CPU per applied message, and where it goes.

Stores a workload as pending webhook events (no HTTP), then times `webhook_events_drain()`
(batches, bulk inserts, one push per batch to the Redis channel layer) on a fresh PostgreSQL
database `bench_drain` with production settings. Prints messages/s and CPU µs per message;
`--profile` adds cProfile's top functions (the profile slows it ~2x).

Workloads (`--workload`): `meta` (default) is Meta's mix of the end-to-end benchmark (batched and
multi-entry POSTs, resent POSTs, redelivered messages); `single` is one message per POST and no
duplicates, the shape of the 1,000 messages/s target, where the worker's cost per stored event
(parse, route, outcome) counts as much as its cost per message.

    .venv/bin/python bench/drain.py [--messages 6000] [--workload meta|single] [--profile]
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
# message_workload's options per workload (see the module's docstring).
WORKLOADS: dict[str, dict[str, float]] = {
    "meta": {},
    "single": {"batched_share": 0, "multi_entry_share": 0, "duplicate_post_share": 0, "redelivery_share": 0},
}


def run(args: argparse.Namespace) -> int:
    from bench import ingest

    c.require_postgres()
    c.require_redis()
    c.flush_redis()
    env = c.django_env(DB_NAME)
    ingest.setup_database(env, DB_NAME)

    from bench._payloads import SIGNATURE_HEADER, message_workload
    from inbox.ingest.drain import webhook_events_drain
    from inbox.models import ChatMessage, WebhookEvent

    shape = WORKLOADS[args.workload]
    work = message_workload(messages=args.messages, contacts=max(1, args.messages // 10),
                            secret=env["FACEBOOK_APP_SECRET"], **shape)
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
        c.Row("drain", "CPU per message, this process", cpu * 1e6 / max(1, stored), "µs"),
        c.Row("drain", "CPU per stored event, this process", cpu * 1e6 / max(1, drained), "µs"),
    ]
    c.print_table(rows, f"The drain in one process ({args.workload} workload)")
    c.write_results("drain" if args.workload == "meta" else f"drain-{args.workload}", rows,
                    {"wall_s": wall, "cpu_s": cpu, "profiled": bool(profile), "workload": args.workload})
    if profile:
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(30)
        if args.callees:
            pstats.Stats(profile, stream=out).sort_stats("cumulative").print_callees(args.callees)
        print(out.getvalue())
    return c.exit_code(rows, strict=args.strict)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=6000)
    parser.add_argument("--workload", choices=sorted(WORKLOADS), default="meta",
                        help="meta: Meta's batched mix (default); single: one message per POST")
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions")
    parser.add_argument("--callees", metavar="REGEX",
                        help="with --profile: also what the functions matching REGEX call (e.g. render_live)")
    c.add_common_arguments(parser, wait_quiet=30)
    args = parser.parse_args()
    c.main_guard(lambda: run(args))


if __name__ == "__main__":
    main()
