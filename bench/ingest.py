"""Webhook ingest on the production shape: ack latency, ack throughput against the floor, end to end.

Starts, on a fresh PostgreSQL database `bench_inbox` and Redis DB 7:
  gunicorn with uvicorn's worker class (2 workers, httptools + uvloop, config.asgi:application) serving
  /webhooks/facebook/ with production settings, as in production (its POST is inbox/webhook_asgi.py),
  a Celery worker (--concurrency 1, niced), the floor app (bench/floor_app.py, same server x2),
  and a stand-in Graph API on loopback answering the profile lookups new contacts trigger.

Measures:
  (a) ack latency p50/p99 at a steady 200 POST/s for --steady-seconds while the worker is busy with a backlog;
  (b) ack throughput at saturation (wrk -c64) of our endpoint and of the floor, same run, and the ratio
      (the worker is stopped during (b) so neither server shares the 2 cores with it);
  (c) end to end: --messages distinct customer messages (some batched, some duplicated) until every one is
      stored; then verifies no loss, no duplicate, conversations updated, broadcasts sent.
Peak RSS of the web and worker process trees is sampled throughout. Every process is stopped at the end.

    .venv/bin/python bench/ingest.py [--messages 20000] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import threading
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common as c
from bench._graph_stub import calls as graph_calls

DB_NAME = "bench_inbox"
WEBHOOK_PATH = "/webhooks/facebook/"
WEB_PORT, FLOOR_PORT, GRAPH_PORT = 18020, 18021, 18029
MB = 1024 * 1024


# --------------------------------------------------------------------------------------------------
# Broadcasts: listen on the business's group like an open inbox page does
# --------------------------------------------------------------------------------------------------


_TEXT_RE = re.compile(r"bench (\d+):")
# A push too big to carry every message names the conversations whose pages must reload instead.
_RESYNC_RE = re.compile(r'data-live="resync" data-conversations="([\d,]*)"')


class BroadcastListener(threading.Thread):
    def __init__(self, group: str) -> None:
        super().__init__(daemon=True)
        self.group = group
        self.events = 0
        self.message_ids: set[int] = set()
        # Pushes carry rendered HTML: every benchmark message's text starts "bench <n>:", unique per message.
        self.texts_seen: set[int] = set()
        self.resynced: set[int] = set()
        self.ready = threading.Event()
        self.stopping = threading.Event()
        self.error: str = ""

    def run(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception as exc:
            self.error = repr(exc)
            self.ready.set()

    async def _main(self) -> None:
        from channels_redis.core import RedisChannelLayer

        layer = RedisChannelLayer(hosts=[c.REDIS_URL], capacity=100_000, expiry=120)
        channel = await layer.new_channel()
        await layer.group_add(self.group, channel)
        self.ready.set()
        while not self.stopping.is_set():
            try:
                message = await asyncio.wait_for(layer.receive(channel), timeout=0.5)
            except TimeoutError:
                continue
            self.events += 1
            self.message_ids.update(message.get("message_ids", []))
            html = message.get("html")
            if isinstance(html, str):
                self.texts_seen.update(int(n) for n in _TEXT_RE.findall(html))
                for ids in _RESYNC_RE.findall(html):
                    self.resynced.update(int(pk) for pk in ids.split(",") if pk)
        await layer.group_discard(self.group, channel)


# --------------------------------------------------------------------------------------------------
# Setup
# --------------------------------------------------------------------------------------------------


def prerequisites(args: argparse.Namespace) -> None:
    c.require_python_modules("django", "psycopg", "psycopg_pool", "celery", "uvicorn", "psutil", "channels_redis")
    c.require_executable("wrk", "Install it: `apt-get install -y wrk` (a Debian package).")
    c.require_postgres()
    c.require_redis()
    c.require_file(c.ROOT / "inbox" / "webhooks.py", "the webhook endpoint is missing.")
    c.require_file(c.ROOT / "inbox" / "tasks.py", "the webhook processing task is missing.")
    for port in (args.web_port, args.floor_port, args.graph_port):
        c.require_port_free(port)


def setup_database(env: dict[str, str], db_name: str = DB_NAME) -> dict[str, int]:
    """A fresh database with one business, its staff user and one connected page."""
    c.log(f"creating database {db_name} and migrating ({env['DJANGO_SETTINGS_MODULE']})")
    c.db_create(db_name, drop=True)
    c.manage(env, "migrate", "--noinput")
    c.django_setup_in_process(env)
    from accounts.models import Business, Membership, User
    from bench._payloads import PAGE_ID
    from social.models import Platform, SocialAccount

    business = Business.objects.create(name="Bench Shop", slug="bench-shop")
    user = User.objects.create_user(email="staff@bench.example", password="bench-password-123")
    Membership.objects.create(user=user, business=business, role=Membership.Role.OWNER)
    page = SocialAccount.objects.create(
        business=business, platform=Platform.FACEBOOK, account_id=PAGE_ID, account_name="Bench Page",
        access_token="bench-page-token", refresh_token="bench-user-token",
    )
    return {"business_id": business.pk, "page_id": page.pk, "user_email": user.email}


def reset_inbox_tables() -> None:
    """Empty the inbox between phases (servers stay up; the worker is stopped when this runs).

    First waits until no webhook event has been stored for a second: after wrk stops, the server still
    answers the requests already waiting in its listen backlog, and those must not land in the next phase.
    """
    from django.db import connection

    from inbox.models import WebhookEvent as _Event

    deadline, last, still_since = time.monotonic() + 30, -1, time.monotonic()
    while time.monotonic() < deadline:
        count = _Event.objects.count()
        if count != last:
            last, still_since = count, time.monotonic()
        elif time.monotonic() - still_since >= 1.0:
            break
        time.sleep(0.2)

    from inbox.models import Attachment, ChatMessage, Contact, Conversation, PendingMessageUpdate, WebhookEvent

    tables = [m._meta.db_table for m in (Attachment, ChatMessage, PendingMessageUpdate, Conversation, Contact,
                                         WebhookEvent)]
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE " + ", ".join(connection.ops.quote_name(t) for t in tables) + " CASCADE")
    c.flush_redis()


def start_worker(group: c.ProcessGroup, env: dict[str, str], concurrency: int, nice: int = 0,
                 name: str = "ingest-celery") -> c.Server:
    """A Celery worker on the benchmark's Redis DB; returns once it answers a ping."""
    server = group.start(
        name,
        [*(["nice", "-n", str(nice)] if nice else []), c.venv_bin("celery"), "--app=config", "worker",
         "-l", "warning", "--concurrency", str(concurrency),
         "--without-gossip", "--without-mingle", "-n", f"{name}@%h"],
        env=env,
    )
    from config.celery_app import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if not server.alive():
            raise c.BenchError(f"the Celery worker exited:\n{server.tail()}")
        if app.control.ping(timeout=0.5):
            return server
    raise c.BenchError(f"the Celery worker did not answer a ping within 60 s:\n{server.tail()}")


def event_states() -> dict[str, int]:
    from django.db.models import Count

    from inbox.models import WebhookEvent

    return {row["state"]: row["n"] for row in WebhookEvent.objects.values("state").annotate(n=Count("id"))}


def stored_messages() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM chat_messages")
        return cursor.fetchone()[0]


def cpu_rows(bench: str, before: dict[str, float], after: dict[str, float], seconds: float) -> list[c.Row]:
    pct = c.ResourceSampler.cpu_percent(before, after, seconds)
    cores = c.machine_info()["nproc"]
    known = sum(pct.get(key, 0.0) for key in ("web", "worker", "postgres", "floor", "bench"))
    return [
        c.Row(bench, "CPU: web / worker / postgres / load generator",
              f"{pct['web']:.0f} / {pct['worker']:.0f} / {pct['postgres']:.0f} / {pct.get('bench', 0):.0f}",
              "% of 1 core"),
        c.Row(bench, "CPU: whole machine busy", pct["machine"] / cores, f"% of {cores} cores"),
        # Anything else (another test suite, a build) makes every figure of this phase pessimistic.
        c.Row(bench, "CPU: other processes on the machine", max(0.0, pct["machine"] - known), "% of 1 core", "≈ 0"),
    ]


def server_name(args: argparse.Namespace) -> str:
    from bench.floor_app import http_implementation

    return f"{c.asgi_server_label(args.asgi_server, args.web_workers)}, {http_implementation()}"


def texts_in_conversations(conversation_ids: set[int]) -> set[int]:
    """The benchmark numbers ("bench <n>:") of the messages stored in these conversations."""
    from inbox.models import ChatMessage

    contents = ChatMessage.objects.filter(conversation_id__in=conversation_ids).values_list("content", flat=True)
    return {int(match.group(1)) for content in contents.iterator() if (match := _TEXT_RE.match(content))}


# --------------------------------------------------------------------------------------------------
# Phases
# --------------------------------------------------------------------------------------------------


def phase_steady(args: argparse.Namespace, secret: str, sampler: c.ResourceSampler) -> tuple[list[c.Row], dict]:
    from bench._payloads import message_workload

    backlog = message_workload(messages=args.backlog, contacts=500, secret=secret, batched_share=1.0,
                               multi_entry_share=0, duplicate_post_share=0, redelivery_share=0, seed=1,
                               psid_base=7_200_000_000_000_000)
    steady_posts = int(args.rate * args.steady_seconds)
    steady = message_workload(messages=steady_posts, contacts=1000, secret=secret, batched_share=0,
                              multi_entry_share=0, duplicate_post_share=0, redelivery_share=0, seed=2,
                              psid_base=7_300_000_000_000_000, shuffle=False)
    c.log(f"(a) backlog: {len(backlog.requests):,} POSTs carrying {args.backlog:,} messages, so the worker is busy")
    asyncio.run(c.closed_loop(args.web_port, WEBHOOK_PATH, backlog.requests, concurrency=8))
    c.log(f"(a) steady {args.rate:.0f} POST/s for {args.steady_seconds} s (one message each) against {server_name(args)}")
    cpu_before, t0 = sampler.cpu_seconds(), time.monotonic()
    latencies, statuses = asyncio.run(c.steady_rate(args.web_port, WEBHOOK_PATH, steady.requests, rate=args.rate))
    elapsed = time.monotonic() - t0
    cpu_after = sampler.cpu_seconds()
    pending_after = event_states().get("pending", 0)
    p50, p99 = c.percentile(latencies, 50), c.percentile(latencies, 99)
    errors = sum(n for status, n in statuses.items() if status != 200)
    rows = [
        c.Row("ingest (a)", f"ack p50 @{args.rate:.0f}/s, worker busy", p50, "ms"),
        c.Row("ingest (a)", f"ack p99 @{args.rate:.0f}/s, worker busy", p99, "ms", "≤ 20 ms", p99 <= 20),
        c.Row("ingest (a)", "non-200 answers", errors, "", "0", errors == 0),
        *cpu_rows("ingest (a)", cpu_before, cpu_after, elapsed),
        c.Row("ingest (a)", f"web CPU per ack ({server_name(args)})",
              (cpu_after["web"] - cpu_before["web"]) / max(1, len(latencies)) * 1000, "ms"),
        c.Row("ingest (a)", "events still queued after (a)", pending_after, "", "> 0 (busy throughout)",
              pending_after > 0),
    ]
    return rows, {"statuses": statuses, "latency_ms_max": max(latencies) if latencies else None}


def phase_saturation(args: argparse.Namespace, secret: str) -> tuple[list[c.Row], dict]:
    from bench._payloads import headers_for, sample_body

    body = sample_body()
    signature = headers_for(body, secret)["X-Hub-Signature-256"]
    ours_runs, floor_runs, raw = [], [], []
    for round_no in range(1, args.rounds + 1):
        for name, port, runs in (("floor", args.floor_port, floor_runs), ("ours", args.web_port, ours_runs)):
            c.log(f"(b) round {round_no}: wrk -c{args.connections} -d{args.sat_seconds}s against {name}")
            result = c.run_wrk(f"http://{c.HOST}:{port}{WEBHOOK_PATH}", body=body, signature=signature,
                               connections=args.connections, duration=args.sat_seconds)
            if result.non_2xx or result.socket_errors:
                c.log(f"    {name}: {result.non_2xx} non-2xx, socket errors: {result.socket_errors or 'none'}")
            runs.append(result)
            raw.append({"server": name, "round": round_no, "requests_per_s": result.requests_per_s,
                        "p99_ms": result.p99_ms, "non_2xx": result.non_2xx, "socket_errors": result.socket_errors})
    ours = c.median([r.requests_per_s for r in ours_runs])
    floor = c.median([r.requests_per_s for r in floor_runs])
    ratio = ours / floor * 100 if floor else float("nan")
    from bench.floor_app import http_implementation

    rows = [
        c.Row("ingest (b)", f"floor acks/s ({c.asgi_server_label(args.asgi_server, 2)}, {http_implementation()})",
              floor, "/s"),
        c.Row("ingest (b)", f"our acks/s ({server_name(args)})", ours, "/s"),
        c.Row("ingest (b)", "ours / floor", ratio, "%", "≥ 50 %", ratio >= 50),
        c.Row("ingest (b)", "our p99 at saturation", c.median([r.p99_ms or 0 for r in ours_runs]), "ms"),
        c.Row("ingest (b)", "our non-2xx at saturation", sum(r.non_2xx for r in ours_runs), "", "0",
              sum(r.non_2xx for r in ours_runs) == 0),
    ]
    return rows, {"runs": raw}


def phase_end_to_end(
    args: argparse.Namespace, secret: str, ids: dict[str, int], group: c.ProcessGroup, env: dict[str, str],
    sampler: c.ResourceSampler,
) -> tuple[list[c.Row], dict]:
    from bench._payloads import message_workload
    from inbox.realtime import business_group

    work = message_workload(messages=args.messages, contacts=args.contacts, secret=secret, seed=3)
    c.log(f"(c) {args.messages:,} distinct messages from {args.contacts:,} customers in {len(work.requests):,} POSTs "
          f"({work.batched_posts:,} batched, {work.multi_entry_posts:,} multi-entry, {work.duplicate_posts:,} "
          f"duplicate POSTs, {work.redelivered_mids:,} redelivered messages)")
    reset_inbox_tables()
    listener = BroadcastListener(business_group(ids["business_id"]))
    listener.start()
    listener.ready.wait(10)
    worker = start_worker(group, env, args.concurrency, args.worker_nice)
    sampler.roots["worker"] = worker.pid

    expected = len(work.mids)
    timeout = args.e2e_timeout or max(120.0, expected / 100)
    acked = {"n": 0}
    send_done = {"t": None}

    def send() -> None:
        statuses = asyncio.run(c.closed_loop(args.web_port, WEBHOOK_PATH, work.requests, concurrency=8,
                                             on_done=lambda status: acked.__setitem__("n", acked["n"] + 1)))
        send_done["t"] = time.monotonic()
        send_done["statuses"] = statuses

    cpu_before = sampler.cpu_seconds()
    t0 = time.monotonic()
    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    stored, done_at = 0, None
    restarts = 0
    last_log = t0
    while time.monotonic() - t0 < timeout:
        time.sleep(0.1)
        stored = stored_messages()
        now = time.monotonic()
        if now - last_log >= 5:
            c.log(f"    {now - t0:5.1f} s: {acked['n']:,}/{len(work.requests):,} POSTs acked, {stored:,}/{expected:,} "
                  "messages stored")
            last_log = now
        if stored >= expected:
            done_at = now
            break
        if not worker.alive():
            # Killed from outside (another session's broad `pkill celery`, the OOM killer). Tasks are
            # acked late, so a new worker must finish the job: that is part of "nothing lost".
            if restarts >= 3:
                raise c.BenchError(f"the Celery worker died 4 times during (c):\n{worker.tail()}")
            restarts += 1
            c.log(f"    the Celery worker died (exit {worker.proc.returncode}); starting another ({restarts}/3)")
            group.stop(worker)
            worker = start_worker(group, env, args.concurrency, args.worker_nice)
            sampler.roots["worker"] = worker.pid
    sender.join(timeout=30)
    elapsed = (done_at or time.monotonic()) - t0
    cpu_after = sampler.cpu_seconds()
    # Let stragglers (duplicates processed last) land before checking nothing was stored twice.
    settle_until = time.monotonic() + (30 if done_at else 0)
    while time.monotonic() < settle_until and event_states().get("pending", 0):
        time.sleep(0.2)
    time.sleep(1.0)
    listener.stopping.set()
    listener.join(timeout=5)
    checks = verify(work, ids)
    rate = expected / elapsed if done_at else stored / elapsed
    send_seconds = (send_done["t"] - t0) if send_done["t"] else None
    statuses = send_done.get("statuses", {})
    # Which stored messages some push named: by id (a push of ids), by its unique text (a push of
    # HTML), or by its conversation in a resync hint (a push of a big batch: open pages reload it).
    broadcast_cover = len(listener.message_ids & checks["stored_ids"]) + len(
        listener.texts_seen | texts_in_conversations(listener.resynced)
    )
    drained = done_at is not None
    n_conv = len(work.count_by_psid)

    def when_drained(ok: bool) -> bool | None:
        # Until every message is stored, "missing" only means "not processed yet": no verdict on loss.
        return ok if drained else None

    pending = checks["events"].get("pending", 0)
    rows = [
        c.Row("ingest (c)", "messages/s webhook → stored", rate, "/s", "≥ 500/s", drained and rate >= 500),
        c.Row("ingest (c)", "all stored within the time limit", drained, "", f"≤ {timeout:.0f} s", drained),
        c.Row("ingest (c)", "time until all stored" if drained else "time waited", elapsed, "s"),
        c.Row("ingest (c)", "time to ack every POST", send_seconds, "s"),
        c.Row("ingest (c)", "POSTs answered non-200", sum(n for s, n in statuses.items() if s != 200), "", "0",
              all(s == 200 for s in statuses)),
        c.Row("ingest (c)", "distinct messages sent", expected),
        c.Row("ingest (c)", "messages stored", checks["stored"], "", f"= {expected:,}",
              when_drained(checks["stored"] == expected)),
        c.Row("ingest (c)", "missing / unexpected mids", f"{checks['missing']:,} / {checks['unexpected']:,}", "",
              "0 / 0" if drained else "— / 0 (not drained)",
              checks["unexpected"] == 0 and (checks["missing"] == 0 if drained else True)),
        c.Row("ingest (c)", "duplicate rows", checks["duplicates"], "", "0", checks["duplicates"] == 0),
        c.Row("ingest (c)", "texts stored intact", checks["content_ok"], "", "= stored",
              checks["content_ok"] == checks["stored"]),
        c.Row("ingest (c)", "conversations (one per customer)", checks["conversations"], "", f"= {n_conv:,}",
              when_drained(checks["conversations"] == n_conv)),
        c.Row("ingest (c)", "conversations with right last_message_at", checks["conv_last_ok"], "", f"= {n_conv:,}",
              when_drained(checks["conv_last_ok"] == n_conv)),
        c.Row("ingest (c)", "conversations with right message count", checks["conv_count_ok"], "", f"= {n_conv:,}",
              when_drained(checks["conv_count_ok"] == n_conv)),
        c.Row("ingest (c)", "conversations with unread = messages", checks["conv_unread_ok"], "", f"= {n_conv:,}",
              when_drained(checks["conv_unread_ok"] == n_conv)),
        c.Row("ingest (c)", "webhook events processed", checks["events"].get("processed", 0), "",
              f"= {len(work.requests):,}", when_drained(checks["events"].get("processed", 0) == len(work.requests))),
        c.Row("ingest (c)", "webhook events failed / unroutable",
              f"{checks['events'].get('failed', 0)} / {checks['events'].get('unroutable', 0)}", "", "0 / 0",
              not checks["events"].get("failed") and not checks["events"].get("unroutable")),
        c.Row("ingest (c)", "webhook events still pending at the end", pending, "", "0" if drained else "",
              when_drained(pending == 0)),
        c.Row("ingest (c)", "broadcast events received", listener.events, "", "> 0", listener.events > 0),
        c.Row("ingest (c)", "stored messages named in a broadcast", broadcast_cover, "", "= stored",
              broadcast_cover >= checks["stored"]),
        c.Row("ingest (c)", "profile lookups (stand-in Graph API)", graph_calls(args.graph_port)),
        c.Row("ingest (c)", "worker restarts (killed from outside)", restarts),
        *cpu_rows("ingest (c)", cpu_before, cpu_after, elapsed),
        # Less sensitive to other load than a rate: what one message costs the worker.
        c.Row("ingest (c)", "worker CPU per stored message",
              (cpu_after["worker"] - cpu_before["worker"]) / max(1, checks["stored"]) * 1000, "ms",
              f"≤ {2 * 1000 / 500:.0f} ms for 500/s on 2 cores"),
    ]
    extra = {"events": checks["events"], "failed_samples": checks["failed_samples"], "listener_error": listener.error,
             "workload": {"posts": len(work.requests), "batched": work.batched_posts,
                          "multi_entry": work.multi_entry_posts, "duplicate_posts": work.duplicate_posts,
                          "redelivered": work.redelivered_mids}}
    return rows, extra


def verify(work, ids: dict[str, int]) -> dict:
    from django.db.models import Count

    from inbox.models import ChatMessage, Conversation, WebhookEvent

    rows = list(ChatMessage.objects.filter(account_id=ids["page_id"]).values_list("message_id", "content"))
    stored_mids = [mid for mid, _ in rows]
    mids = set(stored_mids)
    content_ok = sum(1 for mid, content in rows if work.text_by_mid.get(mid) == content)
    conversations = list(
        Conversation.objects.filter(account_id=ids["page_id"])
        .values("contact__external_id", "last_message_at", "unread_count")
        .annotate(n=Count("messages"))
    )
    conv_last_ok = conv_count_ok = conv_unread_ok = 0
    for conv in conversations:
        psid = conv["contact__external_id"]
        expected_ms = work.last_ms_by_psid.get(psid)
        if expected_ms is not None and int(conv["last_message_at"].timestamp() * 1000) == expected_ms:
            conv_last_ok += 1
        if conv["n"] == work.count_by_psid.get(psid):
            conv_count_ok += 1
        if conv["unread_count"] == work.count_by_psid.get(psid):
            conv_unread_ok += 1
    failed = list(WebhookEvent.objects.exclude(state__in=["processed", "pending"]).values_list("state", "last_error")[:5])
    return {
        "stored": len(rows), "missing": len(work.mids - mids), "unexpected": len(mids - work.mids),
        "duplicates": len(stored_mids) - len(mids), "content_ok": content_ok, "conversations": len(conversations),
        "conv_last_ok": conv_last_ok, "conv_count_ok": conv_count_ok, "conv_unread_ok": conv_unread_ok,
        "events": event_states(), "failed_samples": failed,
        "stored_ids": set(ChatMessage.objects.filter(account_id=ids["page_id"]).values_list("id", flat=True)),
    }


# --------------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description="Webhook ingest benchmark (production shape).")
    parser.add_argument("--messages", type=int, default=20_000, help="distinct messages in (c)")
    parser.add_argument("--contacts", type=int, default=2_000, help="distinct customers in (c)")
    parser.add_argument("--backlog", type=int, default=100_000, help="messages queued before (a) to keep the worker busy")
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--steady-seconds", type=int, default=20)
    parser.add_argument("--sat-seconds", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=1, help="saturation rounds (floor, ours) — median reported")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--web-workers", type=int, default=2, help="uvicorn worker processes of our endpoint")
    parser.add_argument("--concurrency", type=int, default=1,
                        help="Celery worker processes (default 1: drains are CPU-bound, and on 2 cores shared with "
                             "the web server and PostgreSQL a second one costs the acks more than it adds)")
    parser.add_argument("--worker-nice", type=int, default=10,
                        help="run the worker under `nice -n N` so acks win the CPU, as production runs it "
                             "(README); 0: same priority as the web")
    parser.add_argument("--e2e-timeout", type=float, default=0, help="seconds to wait in (c) (default: from --messages)")
    parser.add_argument("--quick", action="store_true", help="a 1-minute smoke run with smaller numbers")
    c.add_common_arguments(parser)
    c.add_asgi_server_argument(parser)
    parser.add_argument("--web-port", type=int, default=WEB_PORT)
    parser.add_argument("--floor-port", type=int, default=FLOOR_PORT)
    parser.add_argument("--graph-port", type=int, default=GRAPH_PORT)
    args = parser.parse_args()
    if args.quick:
        args.messages, args.contacts, args.backlog = 3_000, 300, 10_000
        args.steady_seconds, args.sat_seconds = 5, 5

    prerequisites(args)
    secrets = c.bench_secrets()
    secret = secrets["FACEBOOK_APP_SECRET"]
    env = c.django_env(DB_NAME, FACEBOOK_GRAPH_URL=f"http://{c.HOST}:{args.graph_port}/v25.0",
                       FACEBOOK_DIALOG_URL=f"http://{c.HOST}:{args.graph_port}/dialog/oauth")
    c.flush_redis()
    ids = setup_database(env)
    rows: list[c.Row] = []
    extra: dict = {"args": vars(args)}
    with c.ProcessGroup() as group:
        graph = group.start("ingest-graph-stub", [sys.executable, "-m", "bench._graph_stub", "--port",
                                                  str(args.graph_port)], env=env)
        c.wait_http(args.graph_port, "/__calls", server=graph, timeout=20)
        web = c.asgi_start(group, "ingest-web", "config.asgi:application", port=args.web_port,
                           workers=args.web_workers, env={**env, "DJANGO_DB_POOL": "1"}, server=args.asgi_server)
        from bench.floor_app import floor_start

        floor = floor_start(group, dsn=c.db_url(DB_NAME), secret=secret, port=args.floor_port,
                            server=args.asgi_server)
        c.wait_http(args.web_port, WEBHOOK_PATH, server=web, timeout=60)
        c.wait_for_quiet(max_wait=args.wait_quiet)
        worker = start_worker(group, env, args.concurrency, args.worker_nice)
        with c.ResourceSampler({"web": web.pid, "worker": worker.pid, "floor": floor.pid}) as sampler:
            steady_rows, extra["a"] = phase_steady(args, secret, sampler)
            rows += steady_rows
            c.print_table(rows, "so far")
            # (b) compares the two servers alone: stop the worker, forget its queue and the backlog.
            group.stop(worker)
            reset_inbox_tables()
            sat_rows, extra["b"] = phase_saturation(args, secret)
            rows += sat_rows
            c.print_table(sat_rows, "so far")
            e2e_rows, extra["c"] = phase_end_to_end(args, secret, ids, group, env, sampler)
            rows += e2e_rows
        rows += [
            c.Row("ingest", "peak RSS web (ASGI server, all processes)", sampler.peak_rss["web"] / MB, "MiB"),
            c.Row("ingest", "peak RSS one web worker", sampler.peak_rss_single["web"] / MB, "MiB"),
            c.Row("ingest", "peak RSS worker (celery, all processes)", sampler.peak_rss["worker"] / MB, "MiB"),
            c.Row("ingest", "peak RSS floor (ASGI server, all processes)", sampler.peak_rss["floor"] / MB, "MiB"),
        ]
    nice = f", worker nice {args.worker_nice}" if args.worker_nice else ""
    c.print_table(rows, f"Ingest — production shape on {c.machine_info()['nproc']} cores "
                        f"(PostgreSQL, Redis, {server_name(args)}, celery x{args.concurrency}{nice}; "
                        f"machine {c.BACKGROUND.get('busy_before_percent', '?')} % busy before)")
    path = c.write_results("ingest", rows, {**extra, "asgi_server": args.asgi_server})
    print(f"results: {path.relative_to(c.ROOT)}; server logs: bench/results/*.log")
    return c.exit_code(rows, strict=args.strict)


if __name__ == "__main__":
    c.main_guard(main)
