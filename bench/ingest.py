"""Webhook ingest on the production shape: ack latency, ack throughput against the floor, end to end.

Starts, on a fresh PostgreSQL database `bench_inbox` and Redis DB 7:
  gunicorn with uvicorn's worker class (2 workers, httptools + uvloop, config.asgi:application) serving
  /webhooks/facebook/ with production settings, as in production (its POST is the ASGI adapter,
  inbox/webhook_asgi.py), the same with the adapter off (INBOX_WEBHOOK_FAST_PATH=0: the Django view
  answers), a Celery worker (--concurrency 1, niced), the floor app (bench/floor_app.py, same server
  x2), and a stand-in Graph API on loopback answering the profile lookups new contacts trigger.

Measures:
  (a) ack latency p50/p99 at a steady 200 POST/s for --steady-seconds while the worker is busy with a backlog;
  (b) ack throughput at saturation (wrk -t2 -c64) of the floor, the adapter and the view, interleaved,
      --rounds times, for one message per POST (~600 bytes) and a batch of five; first with the worker
      applying a backlog beside them, then with the worker stopped; each as a share of the floor
      (median of the rounds and range);
  (c) end to end: --messages distinct customer messages until every one is stored, --e2e-rounds times
      with one message per POST and as many with some batched (as Meta sends under load); then
      verifies no loss, no duplicate, conversations updated, broadcasts sent.
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
WEB_PORT, FLOOR_PORT, VIEW_PORT, GRAPH_PORT = 18020, 18021, 18022, 18029
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
    for port in (args.web_port, args.floor_port, args.view_port, args.graph_port):
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
    known = sum(pct.get(key, 0.0) for key in ("web", "view", "worker", "postgres", "floor", "bench"))
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


def backlog_top_up(secret: str, *, messages: int, seed: int) -> int:
    """Store ``messages`` new messages (batched POST bodies) as pending events without HTTP, with the
    endpoint's own INSERT, and wake the drain; returns how many events are pending now."""
    from django.db import connection
    from django.utils import timezone

    from bench._payloads import message_workload
    from config.tasks import enqueue
    from inbox.ingest.receive import INSERT_SQL, insert_params

    work = message_workload(messages=messages, contacts=500, secret=secret, batched_share=1.0, multi_entry_share=0,
                            duplicate_post_share=0, redelivery_share=0, seed=seed, shuffle=False,
                            psid_base=7_400_000_000_000_000 + seed * 1_000)
    with connection.cursor() as cursor:
        for body, headers in work.requests:
            received_at = connection.ops.adapt_datetimefield_value(timezone.now())
            cursor.execute(INSERT_SQL, insert_params(body, headers["X-Hub-Signature-256"], received_at))
    enqueue("inbox.tasks.webhook_events_drain")
    return event_states().get("pending", 0)


def phase_saturation(args: argparse.Namespace, secret: str, *, worker_busy: bool) -> tuple[list[c.Row], dict]:
    """wrk against the floor, the adapter and the view, interleaved, per body shape; ratios to the floor."""
    from bench._payloads import SATURATION_BODIES, headers_for

    label = "(b) worker busy" if worker_busy else "(b) worker stopped"
    target = 45.0 if worker_busy else 60.0
    servers = [("floor", args.floor_port), ("adapter", args.web_port)]
    if args.view_port:
        servers.append(("view", args.view_port))
    rows: list[c.Row] = []
    raw: list[dict] = []
    for shape, make_body in SATURATION_BODIES.items():
        body = make_body()
        signature = headers_for(body, secret)["X-Hub-Signature-256"]
        results: dict[str, list[c.WrkResult]] = {name: [] for name, _ in servers}
        for round_no in range(1, args.rounds + 1):
            # Rotate the order each round, so no server always runs first (or right after another).
            order = servers[round_no - 1:] + servers[:round_no - 1]
            for name, port in order:
                pending = None
                if worker_busy:
                    pending = event_states().get("pending", 0)
                    if pending < args.busy_min_pending:
                        pending = backlog_top_up(secret, messages=args.busy_top_up,
                                                 seed=100 + round_no * 10 + len(raw))
                c.log(f"{label} {shape} ({len(body)} bytes) round {round_no}: wrk -c{args.connections} "
                      f"-d{args.sat_seconds}s against {name}" + (f" ({pending:,} events pending)" if worker_busy else ""))
                result = c.run_wrk(f"http://{c.HOST}:{port}{WEBHOOK_PATH}", body=body, signature=signature,
                                   connections=args.connections, duration=args.sat_seconds)
                if result.non_2xx or result.socket_errors:
                    c.log(f"    {name}: {result.non_2xx} non-2xx, socket errors: {result.socket_errors or 'none'}")
                results[name].append(result)
                raw.append({"shape": shape, "server": name, "round": round_no, "worker_busy": worker_busy,
                            "requests_per_s": result.requests_per_s, "p99_ms": result.p99_ms,
                            "non_2xx": result.non_2xx, "socket_errors": result.socket_errors,
                            "pending_before": pending})
            if not worker_busy:
                reset_inbox_tables()
        floors = [r.requests_per_s for r in results["floor"]]
        rows.append(c.Row(f"ingest {label}", f"{shape}: floor acks/s, median (range)",
                          _median_range(floors), "/s"))
        for name, _ in servers[1:]:
            ours = [r.requests_per_s for r in results[name]]
            # Each round's ratio pairs the runs of that round (same machine load), then the median.
            ratios = [o / f * 100 for o, f in zip(ours, floors, strict=True) if f]
            ratio = c.median(ratios) if ratios else float("nan")
            non_2xx = sum(r.non_2xx for r in results[name])
            is_adapter = name == "adapter"
            rows += [
                c.Row(f"ingest {label}", f"{shape}: {name} acks/s, median (range)", _median_range(ours), "/s"),
                c.Row(f"ingest {label}", f"{shape}: {name} / floor, median (range)", _median_range(ratios, "%"),
                      "", f"≥ {target:.0f} %" if is_adapter else "", (ratio >= target) if is_adapter else None),
                c.Row(f"ingest {label}", f"{shape}: {name} p99 at saturation",
                      c.median([r.p99_ms or 0 for r in results[name]]), "ms"),
                c.Row(f"ingest {label}", f"{shape}: {name} non-2xx", non_2xx, "", "0", non_2xx == 0),
            ]
    return rows, {"runs": raw}


def _median_range(values: list[float], unit: str = "") -> str:
    if not values:
        return "—"
    return f"{c.median(values):,.1f}{unit} ({min(values):,.1f}–{max(values):,.1f})"


def phase_end_to_end(
    args: argparse.Namespace, secret: str, ids: dict[str, int], group: c.ProcessGroup, env: dict[str, str],
    sampler: c.ResourceSampler, *, shape: str = "batched", round_no: int = 1,
) -> tuple[list[c.Row], dict]:
    from bench._payloads import message_workload
    from inbox.realtime import business_group

    # "single": one message per POST, Meta's shape at ordinary traffic (duplicates and redeliveries
    # kept); "batched": 20 % of the POSTs carry 2-5 messages and 10 % several entries.
    shares = {"batched_share": 0.0, "multi_entry_share": 0.0} if shape == "single" else {}
    work = message_workload(messages=args.messages, contacts=args.contacts, secret=secret, seed=3 + round_no,
                            psid_base=7_100_000_000_000_000 + round_no * 10_000_000, **shares)
    bench = f"ingest (c) {shape} #{round_no}"
    c.log(f"(c) {shape} #{round_no}: {args.messages:,} distinct messages from {args.contacts:,} customers in {len(work.requests):,} POSTs "
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
    if not done_at:
        c.log(f"    not all stored after {elapsed:.0f} s")
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
        c.Row(bench, "messages/s webhook → stored", rate, "/s"),
        c.Row(bench, "all stored within the time limit", drained, "", f"≤ {timeout:.0f} s", drained),
        c.Row(bench, "time until all stored" if drained else "time waited", elapsed, "s"),
        c.Row(bench, "time to ack every POST", send_seconds, "s"),
        c.Row(bench, "POSTs answered non-200", sum(n for s, n in statuses.items() if s != 200), "", "0",
              all(s == 200 for s in statuses)),
        c.Row(bench, "distinct messages sent", expected),
        c.Row(bench, "messages stored", checks["stored"], "", f"= {expected:,}",
              when_drained(checks["stored"] == expected)),
        c.Row(bench, "missing / unexpected mids", f"{checks['missing']:,} / {checks['unexpected']:,}", "",
              "0 / 0" if drained else "— / 0 (not drained)",
              checks["unexpected"] == 0 and (checks["missing"] == 0 if drained else True)),
        c.Row(bench, "duplicate rows", checks["duplicates"], "", "0", checks["duplicates"] == 0),
        c.Row(bench, "texts stored intact", checks["content_ok"], "", "= stored",
              checks["content_ok"] == checks["stored"]),
        c.Row(bench, "conversations (one per customer)", checks["conversations"], "", f"= {n_conv:,}",
              when_drained(checks["conversations"] == n_conv)),
        c.Row(bench, "conversations with right last_message_at", checks["conv_last_ok"], "", f"= {n_conv:,}",
              when_drained(checks["conv_last_ok"] == n_conv)),
        c.Row(bench, "conversations with right message count", checks["conv_count_ok"], "", f"= {n_conv:,}",
              when_drained(checks["conv_count_ok"] == n_conv)),
        c.Row(bench, "conversations with unread = messages", checks["conv_unread_ok"], "", f"= {n_conv:,}",
              when_drained(checks["conv_unread_ok"] == n_conv)),
        c.Row(bench, "webhook events processed", checks["events"].get("processed", 0), "",
              f"= {len(work.requests):,}", when_drained(checks["events"].get("processed", 0) == len(work.requests))),
        c.Row(bench, "webhook events failed / unroutable",
              f"{checks['events'].get('failed', 0)} / {checks['events'].get('unroutable', 0)}", "", "0 / 0",
              not checks["events"].get("failed") and not checks["events"].get("unroutable")),
        c.Row(bench, "webhook events still pending at the end", pending, "", "0" if drained else "",
              when_drained(pending == 0)),
        c.Row(bench, "broadcast events received", listener.events, "", "> 0", listener.events > 0),
        c.Row(bench, "stored messages named in a broadcast", broadcast_cover, "", "= stored",
              broadcast_cover >= checks["stored"]),
        c.Row(bench, "profile lookups (stand-in Graph API)", graph_calls(args.graph_port)),
        c.Row(bench, "worker restarts (killed from outside)", restarts),
        *cpu_rows(bench, cpu_before, cpu_after, elapsed),
        # Less sensitive to other load than a rate: what one message costs the worker.
        c.Row(bench, "worker CPU per stored message",
              (cpu_after["worker"] - cpu_before["worker"]) / max(1, checks["stored"]) * 1000, "ms",
              f"≤ {2 * 1000 / 500:.0f} ms for 500/s on 2 cores"),
    ]
    extra = {"events": checks["events"], "failed_samples": checks["failed_samples"], "listener_error": listener.error,
             "workload": {"posts": len(work.requests), "batched": work.batched_posts,
                          "multi_entry": work.multi_entry_posts, "duplicate_posts": work.duplicate_posts,
                          "redelivered": work.redelivered_mids}}
    group.stop(worker)
    return rows, {**extra, "rate": rate, "drained": drained, "ok": all(row.ok is not False for row in rows)}


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
    parser.add_argument("--sat-seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3,
                        help="saturation rounds (floor, adapter, view interleaved) — median and range reported")
    parser.add_argument("--busy-min-pending", type=int, default=1_500,
                        help="in (b) with the worker busy, top the backlog up below this many pending events")
    parser.add_argument("--busy-top-up", type=int, default=15_000, help="messages per backlog top-up in (b)")
    parser.add_argument("--e2e-rounds", type=int, default=3, help="end-to-end runs per shape — median reported")
    parser.add_argument("--e2e-shapes", default="single,batched",
                        help="end-to-end workloads: single (one message per POST), batched (some POSTs carry several)")
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
    parser.add_argument("--phases", default="a,b,c", help="which phases to run (default a,b,c)")
    c.add_common_arguments(parser)
    c.add_asgi_server_argument(parser)
    parser.add_argument("--web-port", type=int, default=WEB_PORT)
    parser.add_argument("--floor-port", type=int, default=FLOOR_PORT)
    parser.add_argument("--view-port", type=int, default=VIEW_PORT,
                        help="the same server with the adapter off (the Django view answers); 0: not measured")
    parser.add_argument("--graph-port", type=int, default=GRAPH_PORT)
    args = parser.parse_args()
    if args.quick:
        args.messages, args.contacts, args.backlog = 3_000, 300, 10_000
        args.steady_seconds, args.sat_seconds, args.rounds, args.e2e_rounds = 5, 5, 1, 1

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
        roots = {"web": web.pid}
        if args.view_port:
            view = c.asgi_start(group, "ingest-view", "config.asgi:application", port=args.view_port,
                                workers=args.web_workers, server=args.asgi_server,
                                env={**env, "DJANGO_DB_POOL": "1", "INBOX_WEBHOOK_FAST_PATH": "0"})
            roots["view"] = view.pid
        from bench.floor_app import floor_start

        floor = floor_start(group, dsn=c.db_url(DB_NAME), port=args.floor_port, server=args.asgi_server)
        c.wait_http(args.web_port, WEBHOOK_PATH, server=web, timeout=60)
        if args.view_port:
            c.wait_http(args.view_port, WEBHOOK_PATH, server=view, timeout=60)
        c.wait_for_quiet(max_wait=args.wait_quiet)
        worker = start_worker(group, env, args.concurrency, args.worker_nice)
        with c.ResourceSampler({**roots, "worker": worker.pid, "floor": floor.pid}) as sampler:
            phases = {name.strip() for name in args.phases.split(",")}
            if "a" in phases:
                steady_rows, extra["a"] = phase_steady(args, secret, sampler)
                rows += steady_rows
                c.print_table(rows, "so far")
            if "b" in phases:
                # (b) with the worker applying a backlog beside the servers, as in production under load.
                busy_rows, extra["b_busy"] = phase_saturation(args, secret, worker_busy=True)
                rows += busy_rows
                c.print_table(busy_rows, "so far")
            # Then the servers alone: stop the worker, forget its queue and the backlog.
            group.stop(worker)
            reset_inbox_tables()
            if "b" in phases:
                sat_rows, extra["b"] = phase_saturation(args, secret, worker_busy=False)
                rows += sat_rows
                c.print_table(sat_rows, "so far")
            extra["c"] = {}
            e2e_shapes = args.e2e_shapes.split(",") if "c" in phases else []
            for shape in [name.strip() for name in e2e_shapes if name.strip()]:
                rates, all_ok = [], True
                for round_no in range(1, args.e2e_rounds + 1):
                    e2e_rows, run = phase_end_to_end(args, secret, ids, group, env, sampler, shape=shape,
                                                     round_no=round_no)
                    rows += e2e_rows
                    extra["c"][f"{shape}#{round_no}"] = {k: v for k, v in run.items() if k != "stored_ids"}
                    rates.append(run["rate"] if run["drained"] else 0.0)
                    all_ok = all_ok and run["ok"]
                target = 1000 if shape == "single" else 500
                rows += [
                    c.Row(f"ingest (c) {shape}", f"messages/s webhook → stored, median of {len(rates)} (range)",
                          _median_range(rates), "/s", f"≥ {target:,}/s", c.median(rates) >= target),
                    c.Row(f"ingest (c) {shape}", "every run: none lost or duplicated, all verified", all_ok, "",
                          "yes", all_ok),
                ]
        rows += [
            c.Row("ingest", "peak RSS web (ASGI server, all processes)", sampler.peak_rss["web"] / MB, "MiB"),
            *([c.Row("ingest", "peak RSS web with the view only", sampler.peak_rss["view"] / MB, "MiB")]
              if "view" in sampler.peak_rss else []),
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
