"""What the reports page shows: read from the rollups only, in a fixed number of queries whatever the period.

Every read takes the business explicitly and goes through `.for_business()`. Each report is a `Section`:
its chart's data (drawn by static/js/reports.js), its table and the same rows as CSV.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db import connection
from django.db.models import Aggregate, Count, FloatField, Func, IntegerField, QuerySet, Sum
from django.db.models.functions import Trunc

from inbox.models import BusinessHours, ConversationStats, HourlyStats
from inbox.reports.hours import WEEKDAYS, Hours, hours_from_row

if TYPE_CHECKING:
    from accounts.models import Business

SLUGS = ("conversations", "messages", "times", "agents", "hours", "misses")
# Up to this span the volume charts count per hour, then per day, beyond the second per week (Monday).
HOURLY_UP_TO = dt.timedelta(days=2)
DAILY_UP_TO = dt.timedelta(days=92)


class Percentile(Aggregate):
    """PostgreSQL's PERCENTILE_CONT(p) WITHIN GROUP (ORDER BY expr): a median or p90 in the database."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: str, fraction: float, **extra: Any) -> None:
        super().__init__(expression, fraction=float(fraction), **extra)


class EpochSeconds(Func):
    """A timestamp as whole seconds since 1970 (UTC)."""

    template = "CAST(EXTRACT(EPOCH FROM %(expressions)s) AS bigint)"
    output_field = IntegerField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # SQLite keeps UTC text; '%%%%s' survives both this template's and the parameters' formatting.
        return super().as_sql(
            compiler, connection, template="CAST(strftime('%%%%s', %(expressions)s) AS INTEGER)", **extra
        )


@dataclass(frozen=True)
class ReportFilters:
    start: dt.datetime  # aware, inclusive
    end: dt.datetime  # aware, exclusive
    tz: dt.tzinfo
    account_id: int | None = None
    team_pk: int | None = None
    agent_pk: int | None = None

    @property
    def bucket(self) -> str:
        span = self.end - self.start
        if span <= HOURLY_UP_TO:
            return "hour"
        return "day" if span <= DAILY_UP_TO else "week"


@dataclass
class Section:
    slug: str
    title: str
    headers: list[str]
    rows: list[list[Any]]  # raw values: what the CSV holds
    shown: list[list[str]] = field(default_factory=list)  # the table's text
    chart: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    headers_shown: list[str] = field(default_factory=list)  # the table's headers when not the CSV's


@dataclass
class Report:
    filters: ReportFilters
    sections: list[Section]
    hours: Hours | None
    heat: list[dict[str, Any]] = field(default_factory=list)  # the busiest hours, one row per weekday
    totals: dict[str, Any] = field(default_factory=dict)

    def section(self, slug: str) -> Section:
        return next(s for s in self.sections if s.slug == slug)


def business_hours_get(*, business: Business) -> BusinessHours | None:
    return BusinessHours.objects.for_business(business).first()


def report_build(
    *, business: Business, filters: ReportFilters, members: dict[int, str], only: str | None = None
) -> Report:
    """Every report for the business over the filters (``only``: just that one's figures are read, for its
    CSV; the others stay empty). ``members``: the names to show per member id."""

    def wanted(*slugs: str) -> bool:
        return only is None or only in slugs

    row = business_hours_get(business=business) if wanted("times") else None
    hours = hours_from_row(time_zone=row.time_zone, week=row.week) if row else None
    buckets = _buckets(filters)
    opened, resolved, missed = {}, {}, {}
    if wanted("conversations"):
        opened = _per_bucket(_episodes(business, filters, "opened_at"), "opened_at", filters)
        resolved = _per_bucket(_episodes(business, filters, "resolved_at"), "resolved_at", filters)
    if wanted("misses"):
        missed = _per_bucket(_episodes(business, filters, "window_missed_at"), "window_missed_at", filters)
    hourly = _per_hour(business, filters) if wanted("messages", "hours") else []
    messages = _messages(hourly, filters)
    label = _bucket_label(filters)

    conversations = Section(
        slug="conversations",
        title="Conversations opened and resolved",
        headers=["Period", "Opened", "Resolved"],
        rows=[[label(b), opened.get(b, 0), resolved.get(b, 0)] for b in buckets],
    )
    conversations.chart = _series_chart("bar", buckets, label, [("Opened", opened), ("Resolved", resolved)])
    message_rows = [[label(b), messages.get(b, (0, 0))[0], messages.get(b, (0, 0))[1]] for b in buckets]
    message_section = Section(
        slug="messages",
        title="Messages in and out",
        headers=["Period", "In", "Out"],
        rows=message_rows,
    )
    message_section.chart = _series_chart(
        "line",
        buckets,
        label,
        [("In", {b: v[0] for b, v in messages.items()}), ("Out", {b: v[1] for b, v in messages.items()})],
    )
    misses = Section(
        slug="misses",
        title="Reply-window misses",
        headers=["Period", "Missed"],
        rows=[[label(b), missed.get(b, 0)] for b in buckets],
        note="Conversations whose customer waited past Meta's 24-hour window with no reply.",
    )
    misses.chart = _series_chart("bar", buckets, label, [("Missed", missed)])
    report = Report(
        filters=filters,
        sections=[
            conversations,
            message_section,
            _times(business, filters, hours) if wanted("times") else _times_empty(),
            _agents(business, filters, members) if wanted("agents") else Section("agents", "", [], []),
            misses,
        ],
        hours=hours,
    )
    report.heat = _heat(hourly, filters)
    report.sections.insert(4, _heat_section(report.heat))
    report.totals = {
        "opened": sum(opened.values()),
        "resolved": sum(resolved.values()),
        "missed": sum(missed.values()),
        "messages_in": sum(v[0] for v in messages.values()),
        "messages_out": sum(v[1] for v in messages.values()),
    }
    for section in report.sections:
        if not section.shown:
            section.shown = [[_text(value) for value in row] for row in section.rows]
        if not section.headers_shown:
            section.headers_shown = section.headers
    return report


# --- the reads ------------------------------------------------------------------------------------------


def _episodes(business: Business, filters: ReportFilters, at: str) -> QuerySet[ConversationStats]:
    rows = ConversationStats.objects.for_business(business).filter(
        **{f"{at}__gte": filters.start, f"{at}__lt": filters.end}
    )
    if filters.account_id:
        rows = rows.filter(account_id=filters.account_id)
    if filters.team_pk:
        rows = rows.filter(team_pk=filters.team_pk)
    if filters.agent_pk:
        rows = rows.filter(assignee_pk=filters.agent_pk)
    return rows


def _hourly(business: Business, filters: ReportFilters) -> QuerySet[HourlyStats]:
    rows = HourlyStats.objects.for_business(business).filter(hour__gte=filters.start, hour__lt=filters.end)
    if filters.account_id:
        rows = rows.filter(account_id=filters.account_id)
    if filters.team_pk:
        rows = rows.filter(team_pk=filters.team_pk)
    return rows


def _per_bucket(rows: QuerySet, at: str, filters: ReportFilters) -> dict[dt.datetime, int]:
    grouped = (
        rows.annotate(bucket=Trunc(at, filters.bucket, tzinfo=filters.tz))
        .values("bucket")
        .order_by()
        .annotate(n=Count("id"))
        .values_list("bucket", "n")
    )
    return {_local(bucket, filters): n for bucket, n in grouped}


def _per_hour(business: Business, filters: ReportFilters) -> list[tuple[dt.datetime, int, int]]:
    """Messages in and out per hour of the period: one grouped read of the raw column (no time zone maths
    per row), shared by the messages chart and the heat map, which are folded from it here."""
    rows = _hourly(business, filters)
    if filters.agent_pk:
        rows = rows.filter(agent_pk=filters.agent_pk)
    # Seconds since the epoch rather than datetimes: a year is ~9,000 rows, and building that many aware
    # datetimes from the database's answer costs more than the query.
    grouped = (
        rows.annotate(epoch=EpochSeconds("hour"))
        .values("epoch")
        .order_by()
        .annotate(i=Sum("messages_in"), o=Sum("messages_out"))
        .values_list("epoch", "i", "o")
    )
    return [(dt.datetime.fromtimestamp(epoch, filters.tz), i or 0, o or 0) for epoch, i, o in grouped]


def _messages(hours: list[tuple[dt.datetime, int, int]], filters: ReportFilters) -> dict[dt.datetime, tuple[int, int]]:
    found: dict[dt.datetime, tuple[int, int]] = {}
    for hour, i, o in hours:
        local = _floor(hour.astimezone(filters.tz).replace(tzinfo=None), filters.bucket)
        before = found.get(local, (0, 0))
        found[local] = (before[0] + i, before[1] + o)
    return found


def _times(business: Business, filters: ReportFilters, hours: Hours | None) -> Section:
    first = _percentiles(
        _episodes(business, filters, "opened_at").filter(first_response_seconds__isnull=False),
        ["first_response_seconds", "first_response_open_seconds"] if hours else ["first_response_seconds"],
    )
    resolution = _percentiles(
        _episodes(business, filters, "resolved_at"),
        ["resolution_seconds", "resolution_open_seconds"] if hours else ["resolution_seconds"],
    )
    rows: list[list[Any]] = [
        ["First response", first["n"], *first["first_response_seconds"]],
        ["Resolution", resolution["n"], *resolution["resolution_seconds"]],
    ]
    if hours:
        rows.insert(1, ["First response, business hours", first["n"], *first["first_response_open_seconds"]])
        rows.append(["Resolution, business hours", resolution["n"], *resolution["resolution_open_seconds"]])
    section = Section(
        slug="times",
        title="First response and resolution times",
        headers=["Time", "Conversations", "Median (s)", "90th percentile (s)"],
        rows=rows,
        note=(
            "First response: conversations opened in the period, to the first reply. "
            "Resolution: conversations resolved in the period, from the customer's first message."
        ),
    )
    section.shown = [[name, str(n), _duration(median), _duration(p90)] for name, n, median, p90 in rows]
    section.headers_shown = ["Time", "Count", "Median", "p90"]
    # Minutes read well up to a few hours; past that the bars are drawn in hours.
    longest = max((value for row in rows for value in row[2:] if value is not None), default=0)
    unit, per = ("hours", 3600) if longest > 5 * 3600 else ("minutes", 60)
    section.chart = {
        "type": "bar",
        "labels": [row[0] for row in rows],
        "datasets": [
            {"label": f"Median ({unit})", "data": [_in(row[2], per) for row in rows]},
            {"label": f"90th percentile ({unit})", "data": [_in(row[3], per) for row in rows]},
        ],
        "horizontal": True,
    }
    return section


def _times_empty() -> Section:
    return Section("times", "First response and resolution times", ["Time", "Count", "Median (s)", "p90 (s)"], [])


def _agents(business: Business, filters: ReportFilters, members: dict[int, str]) -> Section:
    rows = _hourly(business, filters).filter(replies__gt=0)
    if filters.agent_pk:
        rows = rows.filter(agent_pk=filters.agent_pk)
    grouped = rows.values("agent_pk").order_by().annotate(n=Sum("replies")).order_by("-n", "agent_pk")
    table = [[_member(members, row["agent_pk"]), row["n"]] for row in grouped.values("agent_pk", "n")]
    section = Section(
        slug="agents",
        title="Replies per agent",
        headers=["Agent", "Replies"],
        rows=table,
        note="Replies sent from Meta's own apps are counted as “From Meta's apps”.",
    )
    section.chart = {
        "type": "bar",
        "labels": [row[0] for row in table],
        "datasets": [{"label": "Replies", "data": [row[1] for row in table]}],
        "horizontal": True,
    }
    return section


def _heat(hours: list[tuple[dt.datetime, int, int]], filters: ReportFilters) -> list[dict[str, Any]]:
    counts: dict[tuple[int, int], int] = {}
    for hour, i, _ in hours:
        local = hour.astimezone(filters.tz)
        key = (local.isoweekday(), local.hour)
        counts[key] = counts.get(key, 0) + i
    top = max(counts.values(), default=0)
    heat = []
    for index, name in enumerate(WEEKDAYS):
        cells = []
        for h in range(24):
            n = counts.get((index + 1, h), 0)
            # Five shades: 0 is empty, the busiest hour is 4.
            level = 0 if not n or not top else 1 + min(3, int(4 * n / (top + 1)))
            cells.append({"hour": h, "n": n, "level": level})
        heat.append({"day": name, "short": name[:3], "cells": cells, "total": sum(c["n"] for c in cells)})
    return heat


def _heat_section(heat: list[dict[str, Any]]) -> Section:
    return Section(
        slug="hours",
        title="Busiest hours",
        headers=["Weekday", *[f"{h:02d}:00" for h in range(24)]],
        rows=[[row["day"], *[cell["n"] for cell in row["cells"]]] for row in heat],
        note="Customer messages per weekday and hour of the day.",
    )


def _percentiles(rows: QuerySet[ConversationStats], fields: list[str]) -> dict[str, Any]:
    """Count, median and p90 of each field; in the database on PostgreSQL, in Python elsewhere (tests)."""
    if connection.vendor == "postgresql":
        aggregates: dict[str, Any] = {"n": Count("id")}
        for name in fields:
            aggregates[f"{name}_50"] = Percentile(name, 0.5)
            aggregates[f"{name}_90"] = Percentile(name, 0.9)
        found = rows.aggregate(**aggregates)
        result: dict[str, Any] = {"n": found["n"]}
        for name in fields:
            result[name] = [found[f"{name}_50"], found[f"{name}_90"]]
        return result
    values = list(rows.values_list(*fields))
    result = {"n": len(values)}
    for index, name in enumerate(fields):
        column = sorted(v[index] for v in values if v[index] is not None)
        result[name] = [_cont(column, 0.5), _cont(column, 0.9)]
    return result


def _cont(values: list[int], fraction: float) -> float | None:
    # As PERCENTILE_CONT: interpolated between the two nearest ranks.
    if not values:
        return None
    position = fraction * (len(values) - 1)
    low = int(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (position - low)


# --- shaping ----------------------------------------------------------------------------------------------


def _floor(local: dt.datetime, bucket: str) -> dt.datetime:
    """The start of the bucket a wall time falls in."""
    local = local.replace(minute=0, second=0, microsecond=0)
    if bucket == "hour":
        return local
    local = local.replace(hour=0)
    return local - dt.timedelta(days=local.weekday()) if bucket == "week" else local


def _buckets(filters: ReportFilters) -> list[dt.datetime]:
    step = {"hour": dt.timedelta(hours=1), "day": dt.timedelta(days=1)}.get(filters.bucket, dt.timedelta(weeks=1))
    current = _floor(filters.start.astimezone(filters.tz).replace(tzinfo=None), filters.bucket)
    end = filters.end.astimezone(filters.tz).replace(tzinfo=None)
    found: list[dt.datetime] = []
    while current < end and len(found) < 2000:
        found.append(current)
        current += step  # wall time: a day is a day across a DST change
    return found


def _local(value: dt.datetime | dt.date, filters: ReportFilters) -> dt.datetime:
    # Trunc gives an aware datetime on PostgreSQL, the zone's wall time on SQLite: keys are naive wall times.
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(filters.tz)
        return value.replace(tzinfo=None)
    return dt.datetime.combine(value, dt.time())


def _bucket_label(filters: ReportFilters):
    if filters.bucket == "hour":
        return lambda b: b.strftime("%a %H:00")
    if filters.bucket == "week":
        return lambda b: b.strftime("Week of %d %b %Y")
    return lambda b: b.strftime("%a %d %b")


def _series_chart(kind: str, buckets: list[dt.datetime], label, series: list[tuple[str, dict]]) -> dict[str, Any]:
    return {
        "type": kind,
        "labels": [label(b) for b in buckets],
        "datasets": [{"label": name, "data": [values.get(b, 0) for b in buckets]} for name, values in series],
    }


def _member(members: dict[int, str], pk: int) -> str:
    if not pk:
        return "From Meta's apps"
    return members.get(pk, "Former member")


def _in(seconds: float | None, per: int) -> float | None:
    return None if seconds is None else round(seconds / per, 1)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def _text(value: Any) -> str:
    if isinstance(value, int):
        return f"{value:,}"
    return "—" if value is None else str(value)


__all__ = ["SLUGS", "Percentile", "Report", "ReportFilters", "Section", "business_hours_get", "report_build"]
