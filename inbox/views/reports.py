"""Reports (owners and admins): the page with its filters, a CSV per report, and the business hours form."""

from __future__ import annotations

import csv
import datetime as dt
import zoneinfo
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import messages as flash
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts.decorators import business_admin_required
from accounts.selectors import member_choices, team_groups
from inbox import selectors
from inbox.reports import business_hours as hours_services
from inbox.reports.hours import WEEKDAYS
from inbox.reports.selectors import SLUGS, Report, ReportFilters, business_hours_get, report_build

if TYPE_CHECKING:
    from accounts.requests import BusinessRequest

TEMPLATE = "inbox/reports.html"
PERIODS = (("today", "Today"), ("7d", "Last 7 days"), ("30d", "Last 30 days"), ("custom", "Custom dates"))
PERIOD_DAYS = {"7d": 7, "30d": 30}
MAX_DAYS = 366
# A spreadsheet runs a cell that starts with one of these as a formula: such text is quoted in the CSV.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
TIME_ZONES = sorted(zoneinfo.available_timezones())


class ReportFilterForm(forms.Form):
    period = forms.ChoiceField(choices=PERIODS, required=False, initial="7d")
    start = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
    page = forms.ChoiceField(required=False, label="Page")  # a page's public id
    team = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    agent = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)

    def __init__(self, *args: Any, pages: list, teams: list, agents: list, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["page"].choices = [("", "All pages"), *pages]  # type: ignore[attr-defined]
        self.fields["team"].choices = [("", "All teams"), *teams]  # type: ignore[attr-defined]
        self.fields["agent"].choices = [("", "Everyone"), *agents]  # type: ignore[attr-defined]

    def clean(self) -> dict:
        data = super().clean() or {}
        if (data.get("period") or "7d") == "custom":
            start, end = data.get("start"), data.get("end")
            if not start or not end:
                raise forms.ValidationError("Pick both dates.")
            if end < start:
                raise forms.ValidationError("The end date is before the start date.")
            if (end - start).days >= MAX_DAYS:
                raise forms.ValidationError(f"Pick at most {MAX_DAYS} days.")
        return data


class BusinessHoursForm(forms.Form):
    # A text box offering the zone names (a <datalist>): a <select> of ~600 zones rendered through the
    # widget machinery would cost the page more than its reports do.
    time_zone = forms.CharField(
        label="Time zone", max_length=64, widget=forms.TextInput(attrs={"list": "time-zones", "autocomplete": "off"})
    )
    days = forms.TypedMultipleChoiceField(
        coerce=int, choices=list(enumerate(WEEKDAYS)), widget=forms.CheckboxSelectMultiple, label="Open on"
    )
    opens = forms.TimeField(label="Opens", widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    closes = forms.TimeField(label="Closes", widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))

    def clean_time_zone(self) -> str:
        name = self.cleaned_data["time_zone"].strip()
        if name not in TIME_ZONES:
            raise forms.ValidationError("Pick a time zone from the list, such as Europe/Rome.")
        return name


def _zone(name: str | None) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(name) if name else dt.UTC
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def _choices(request: BusinessRequest) -> dict[str, Any]:
    business = request.business
    members = member_choices(business=business)
    accounts = list(selectors.account_list(business=business))
    return {
        "pages": [
            (str(account.public_id), account.account_name or account.account_id)
            for account in accounts
        ],
        "page_pks": {str(account.public_id): account.pk for account in accounts},
        "teams": [(team.pk, team.name) for team in team_groups(business=business)],
        "agents": [(pk, name) for pk, name, _ in members],
        "names": {pk: name for pk, name, _ in members},
    }


def _filters(form: ReportFilterForm, tz: dt.tzinfo, page_pks: dict[str, int]) -> ReportFilters:
    data = form.cleaned_data
    period = data.get("period") or "7d"
    today = timezone.now().astimezone(tz).date()
    if period == "custom":
        first, last = data["start"], data["end"]
    elif period == "today":
        first = last = today
    else:
        first, last = today - dt.timedelta(days=PERIOD_DAYS[period] - 1), today
    start = dt.datetime.combine(first, dt.time(), tzinfo=tz)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=tz)
    return ReportFilters(
        start=start, end=end, tz=tz, account_id=page_pks.get(data.get("page") or ""), team_pk=data.get("team"), agent_pk=data.get("agent")
    )


def _report(request: BusinessRequest, *, only: str | None = None) -> tuple[ReportFilterForm, Report | None, dt.tzinfo]:
    choices = _choices(request)
    hours_row = business_hours_get(business=request.business)
    tz = _zone(hours_row.time_zone if hours_row else getattr(request.user, "time_zone", ""))
    form = ReportFilterForm(
        request.GET or {"period": "7d"}, pages=choices["pages"], teams=choices["teams"], agents=choices["agents"]
    )
    if not form.is_valid():
        return form, None, tz
    filters = _filters(form, tz, choices["page_pks"])
    report = report_build(business=request.business, filters=filters, members=choices["names"], only=only)
    return form, report, tz


@never_cache
@require_GET
@business_admin_required
def report_page(request: BusinessRequest) -> HttpResponse:
    form, report, tz = _report(request)
    hours_row = business_hours_get(business=request.business)
    initial: dict[str, Any] = {
        "time_zone": getattr(tz, "key", "UTC"),
        "days": [0, 1, 2, 3, 4],
        "opens": dt.time(9),
        "closes": dt.time(17),
    }
    if hours_row and hours_row.week:
        first_day = next(iter(hours_row.week.values()))
        initial.update(days=[int(day) for day in hours_row.week], opens=first_day[0], closes=first_day[1])
    context = {
        "form": form,
        "report": report,
        "zone": getattr(tz, "key", "UTC"),
        "hours_row": hours_row,
        "hours_form": BusinessHoursForm(initial=initial),
        "time_zones": TIME_ZONES,
        "charts": {section.slug: section.chart for section in report.sections} if report else {},
        "query": request.GET.urlencode(),
    }
    return render(request, TEMPLATE, context, status=200 if report else 400)


@never_cache
@require_GET
@business_admin_required
def report_export(request: BusinessRequest) -> HttpResponse:
    """One report's table as CSV: ?report=<slug> and the page's filters."""
    slug = request.GET.get("report", "")
    if slug not in SLUGS:
        raise Http404("No such report.")
    form, report, _ = _report(request, only=slug)
    if report is None:
        return HttpResponse(
            "The filters are not valid: "
            + "; ".join(str(error) for errors in form.errors.values() for error in errors),
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    section = report.section(slug)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    first = report.filters.start.date().isoformat()
    last = (report.filters.end - dt.timedelta(days=1)).date().isoformat()
    response["Content-Disposition"] = f'attachment; filename="{slug}-{first}-{last}.csv"'
    writer = csv.writer(response)
    writer.writerow(section.headers)
    for row in section.rows:
        writer.writerow([_cell(value) for value in row])
    return response


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return round(value)
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


@require_POST
@business_admin_required
def business_hours_save(request: BusinessRequest) -> HttpResponse:
    target = reverse("inbox:reports")
    if request.POST.get("clear"):
        hours_services.business_hours_clear(business=request.business, user=request.user)
        flash.success(request, "Business hours removed: reports count every hour.")
        return HttpResponseRedirect(target)
    form = BusinessHoursForm(request.POST)
    if not form.is_valid():
        flash.error(
            request,
            "Business hours not saved: "
            + "; ".join(
                f"{form.fields[name].label}: {error}" if name in form.fields else str(error)
                for name, errors in form.errors.items()
                for error in errors
            ),
        )
        return HttpResponseRedirect(target)
    try:
        hours_services.business_hours_set(
            business=request.business,
            user=request.user,
            time_zone=form.cleaned_data["time_zone"],
            days=form.cleaned_data["days"],
            opens=form.cleaned_data["opens"],
            closes=form.cleaned_data["closes"],
        )
    except hours_services.BusinessHoursError as exc:
        flash.error(request, f"Business hours not saved: {exc}")
        return HttpResponseRedirect(target)
    flash.success(request, "Business hours saved. Times within them are being counted again.")
    return HttpResponseRedirect(target)
