"""The reports page over HTTP at 1,000,000 messages: building the rollups, then p50 / p95 / p99 and queries.

Database `bench_reports`: a copy of `bench_pages` (bench/generate_data.py: 100,000 conversations and
1,000,000 messages over about four years in one business), made with `createdb -T bench_pages` when
missing, then migrated; `bench_pages` itself is never written to. Two things the generator does not
make are added to the copy once, because the reports count them: an audit row "conversation.resolved"
for each resolved conversation (10 minutes after its last message), and the conversation's assignee as
the sender of its replies.

1. The rollups are built from nothing (`inbox.reports.rollup.reports_rollup`, as the periodic task
   runs it, but until everything is read) and timed; then one more run with nothing new is timed (what
   the task costs every minute).
2. The page is served as production serves it: gunicorn with deploy/gunicorn_wsgi.conf.py and the
   benchmark settings (bench/pages.py's plumbing). Per case: warmup, then N sequential requests timed
   to the last byte; p50 / p95 / p99 of the worse of the rounds. Queries are counted in-process
   (Django's test Client) and compared with the small business's, which must not be fewer.

Target (issue #16): a report over 1M messages renders in ≤ 300 ms p95.

    .venv/bin/python bench/reports.py [-n 100] [--rounds 2] [--rebuild]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common as c
from bench import generate_data as gen
from bench import pages

DB_NAME = "bench_reports"
TARGET_P95_MS = 300.0
PORT = 18_431
SETTINGS = pages.SETTINGS


def ensure_database(*, rebuild: bool) -> dict:
    """The copy of bench_pages, migrated, with resolves and senders; Django configured in this process."""
    c.require_postgres()
    if not c.db_exists(gen.DB_NAME):
        c.log(f"{gen.DB_NAME} is missing: generating it (bench/generate_data.py)")
        gen.ensure_dataset(conversations=100_000, messages=1_000_000, settings=SETTINGS)
    if not c.db_exists(DB_NAME):
        c.log(f"copying {gen.DB_NAME} into {DB_NAME}")
        subprocess.run(["createdb", "-h", c.HOST, "-U", "postgres", "-T", gen.DB_NAME, DB_NAME], check=True)
    env = c.django_env(DB_NAME, settings=SETTINGS)
    c.log(f"migrating {DB_NAME}")
    c.manage(env, "migrate", "--noinput")
    c.django_setup_in_process(env)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM accounts_auditevent WHERE action = 'conversation.resolved'")
        if cursor.fetchone()[0] == 0:
            c.log("adding an audit row 'conversation.resolved' for each resolved conversation")
            cursor.execute(
                "INSERT INTO accounts_auditevent (business_id, actor_id, action, target_type, target_id, metadata,"
                " created_at) SELECT business_id, assignee_id, 'conversation.resolved', 'inbox.conversation',"
                " id::text, '{}', last_message_at + interval '10 minutes' FROM conversations"
                " WHERE status = 'resolved' ORDER BY last_message_at"
            )
            c.log("giving replies their conversation's assignee as sender")
            cursor.execute(
                "UPDATE chat_messages m SET sent_by_id = v.assignee_id FROM conversations v"
                " WHERE m.conversation_id = v.id AND m.direction = 'outbound' AND m.sent_by_id IS NULL"
                " AND v.assignee_id IS NOT NULL"
            )
        if rebuild:
            cursor.execute("TRUNCATE report_conversation_stats, report_hourly_stats, report_cursors")
    return {"env": env}


def build_rollups() -> tuple[float, float, int, int]:
    """(seconds to build from nothing, seconds of a run with nothing new, messages read, episodes)."""
    import datetime as dt

    from inbox.models import ConversationStats, ReportCursor
    from inbox.reports.rollup import reports_rollup

    built = ReportCursor.objects.filter(name="messages").values_list("last_id", flat=True).first()
    started = time.monotonic()
    read = 0
    if not built:
        c.log("building the rollups from nothing")
        run = reports_rollup(settle=dt.timedelta(0), max_batches=10**6)
        read = run.messages
    build_seconds = time.monotonic() - started if not built else float("nan")
    # What autovacuum does to freshly filled tables soon after: the planner's statistics.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE report_conversation_stats, report_hourly_stats")
    started = time.monotonic()
    reports_rollup(settle=dt.timedelta(0))
    idle_seconds = time.monotonic() - started
    return build_seconds, idle_seconds, read, ConversationStats.objects.count()


def _cases(*, business) -> list[pages.Case]:
    import datetime as dt

    from django.urls import reverse

    from accounts.models import Membership, Team
    from social.models import SocialAccount

    url = reverse("inbox:reports")
    today = dt.date.today()
    year_ago = (today - dt.timedelta(days=365)).isoformat()
    account = SocialAccount.objects.filter(business=business).order_by("id").first()
    team = Team.objects.filter(business=business).order_by("id").first()
    agent = Membership.objects.filter(business=business).order_by("id").values_list("user_id", flat=True).last()
    cases = [
        pages.Case("reports: 7 days", url),
        pages.Case("reports: 30 days", f"{url}?period=30d"),
        pages.Case("reports: 366 days (all data)", f"{url}?period=custom&start={year_ago}&end={today.isoformat()}"),
        pages.Case("reports: 30 days, one agent", f"{url}?period=30d&agent={agent}"),
        pages.Case(
            "csv: messages per day, 366 days",
            f"{reverse('inbox:report_export')}?report=messages&period=custom&start={year_ago}&end={today.isoformat()}",
        ),
    ]
    if account is not None:
        cases.insert(3, pages.Case("reports: 30 days, one page", f"{url}?period=30d&page={account.pk}"))
    if team is not None:
        cases.insert(4, pages.Case("reports: 30 days, one team", f"{url}?period=30d&team={team.pk}"))
    return cases


def main() -> int:
    parser = argparse.ArgumentParser(description="The reports page over HTTP at 1M messages, and its rollups.")
    parser.add_argument("-n", type=int, default=100, help="timed requests per case and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--rebuild", action="store_true", help="empty the rollups and build them again")
    parser.add_argument("--workers", type=int, default=0, help="gunicorn workers (default: the config's)")
    parser.add_argument("--port", type=int, default=PORT)
    c.add_common_arguments(parser)
    args = parser.parse_args()

    c.require_python_modules("django", "psycopg")
    c.require_executable(c.venv_bin("gunicorn"), "gunicorn is missing: pip install -r requirements.txt")
    c.require_redis()
    facts = ensure_database(rebuild=args.rebuild)
    build_seconds, idle_seconds, read, episodes = build_rollups()

    from accounts.models import Business
    from inbox.models import ChatMessage

    big = Business.objects.get(slug=gen.BIG_SLUG)
    small = Business.objects.get(slug=gen.SMALL_SLUG)
    messages = ChatMessage.objects.count()
    big_client = pages.client_for(gen.BIG_USER)
    results = [pages.Measured(case=case) for case in _cases(business=big)]
    c.log("counting queries in-process")
    for result in results:
        result.queries, result.slowest_sql, result.slowest_sql_ms, _ = pages.count_queries(big_client, result.case)
    small_client = pages.client_for(gen.SMALL_USER)
    small_counts = {}
    for case in _cases(business=small):
        small_counts[pages._key(case)] = pages.count_queries(small_client, case, requests=2)[0]

    with c.ProcessGroup() as group:
        server = pages.start_web(group, facts["env"], port=args.port, workers=args.workers or None)
        http_client = pages.HttpClient(args.port, pages.session_cookie(big_client))
        c.wait_for_quiet(max_wait=args.wait_quiet)
        for round_number in range(1, args.rounds + 1):
            c.log(f"round {round_number}/{args.rounds}: {args.n} requests per case (after {pages.WARMUP} warmup)")
            for result in results:
                pages.measure_round(http_client, result, n=args.n)
                times = result.rounds[-1]
                c.log(
                    f"    {result.case.name}: p50 {c.percentile(times, 50):.1f}, p95 {c.percentile(times, 95):.1f},"
                    f" p99 {c.percentile(times, 99):.1f} ms"
                )
        group.stop(server)

    rows: list[c.Row] = [
        c.Row(
            "reports",
            f"rollup build from nothing ({read:,} messages read)" if read else "rollup build (already built)",
            f"{build_seconds:.1f}" if read else "-",
            "s" if read else "",
        ),
        c.Row("reports", "rollup run with nothing new (the task every minute)", f"{idle_seconds * 1000:.0f}", "ms"),
        c.Row("reports", "episodes (ConversationStats rows)", f"{episodes:,}"),
    ]
    for result in results:
        name = result.case.name
        p95_ok = result.worst(95) <= TARGET_P95_MS
        small_count = small_counts.get(pages._key(result.case))
        rows.append(c.Row("reports", f"{name} p50", result.label(50), "ms"))
        rows.append(c.Row("reports", f"{name} p95", result.label(95), "ms", f"≤ {TARGET_P95_MS:.0f} ms", p95_ok))
        rows.append(c.Row("reports", f"{name} p99", result.label(99), "ms"))
        rows.append(
            c.Row(
                "reports",
                f"{name} queries",
                f"{result.queries} (small: {small_count})",
                "",
                "same as the small business's",
                result.queries == small_count,
            )
        )
    c.print_table(
        rows,
        f"Reports over HTTP (gunicorn, production settings) — {messages:,} messages in {DB_NAME};"
        f" {args.n} requests × {args.rounds} rounds",
    )
    extra = {
        "requests_per_round": args.n,
        "rounds": args.rounds,
        "build_seconds": build_seconds,
        "idle_run_seconds": idle_seconds,
        "episodes": episodes,
        "cases": [
            {
                "name": r.case.name,
                "url": r.case.url,
                "p50_ms": r.per_round(50),
                "p95_ms": r.per_round(95),
                "p99_ms": r.per_round(99),
                "queries": r.queries,
                "slowest_query_ms": r.slowest_sql_ms,
                "slowest_query": r.slowest_sql,
            }
            for r in results
        ],
    }
    path = c.write_results("reports", rows, extra)
    print(f"results: {path.relative_to(c.ROOT)}")
    return c.exit_code(rows, strict=args.strict)


if __name__ == "__main__":
    c.main_guard(main)
