"""Business hours: how many seconds of a span fall inside a business's weekly opening hours."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# Spans longer than this are counted a whole week at a time, so a conversation open for months costs
# no more than one open for a fortnight.
WHOLE_WEEKS_AFTER = dt.timedelta(days=14)


@dataclass(frozen=True)
class Hours:
    """A weekly schedule in a time zone: weekday (0 = Monday) -> (opens, closes) on that day."""

    tz: dt.tzinfo
    days: dict[int, tuple[dt.time, dt.time]]

    @property
    def week_seconds(self) -> int:
        return sum(_seconds_between(opens, closes) for opens, closes in self.days.values())


def hours_from_row(*, time_zone: str, week: dict) -> Hours | None:
    """The schedule stored on a BusinessHours row; None when no day is open or the row is unreadable."""
    try:
        tz: dt.tzinfo = zoneinfo.ZoneInfo(time_zone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None
    days: dict[int, tuple[dt.time, dt.time]] = {}
    for key, span in (week or {}).items():
        try:
            day = int(key)
            opens, closes = dt.time.fromisoformat(span[0]), dt.time.fromisoformat(span[1])
        except (TypeError, ValueError, IndexError):
            continue
        if 0 <= day <= 6 and opens < closes:
            days[day] = (opens, closes)
    return Hours(tz=tz, days=days) if days else None


def open_seconds(start: dt.datetime, end: dt.datetime, hours: Hours) -> int:
    """Seconds of [start, end) inside the opening hours (local wall times, so DST days count as lived)."""
    if end <= start:
        return 0
    total = 0
    span = end - start
    if span > WHOLE_WEEKS_AFTER:
        weeks = (span - WHOLE_WEEKS_AFTER).days // 7 + 1
        total += weeks * hours.week_seconds
        start = start + dt.timedelta(weeks=weeks)
    day = start.astimezone(hours.tz).date() - dt.timedelta(days=1)
    last = end.astimezone(hours.tz).date()
    while day <= last:
        opening = hours.days.get(day.weekday())
        if opening is not None:
            opens = dt.datetime.combine(day, opening[0], tzinfo=hours.tz)
            closes = dt.datetime.combine(day, opening[1], tzinfo=hours.tz)
            overlap = min(end, closes) - max(start, opens)
            if overlap > dt.timedelta(0):
                total += int(overlap.total_seconds())
        day += dt.timedelta(days=1)
    return total


def _seconds_between(opens: dt.time, closes: dt.time) -> int:
    return (closes.hour * 3600 + closes.minute * 60) - (opens.hour * 3600 + opens.minute * 60)
