"""The activity log page (owners and admins): staff actions, Graph calls per page, export, retention."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.contrib import messages
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts import activity
from accounts.decorators import business_admin_required
from accounts.forms import ActivityFilterForm, RetentionForm
from accounts.selectors import member_choices
from accounts.services import audit_record

if TYPE_CHECKING:
    from accounts.requests import BusinessRequest

# Graph calls are summed over the log's period, or over the last day when it names none.
GRAPH_DEFAULT_PERIOD = dt.timedelta(days=1)


def _filters(request: BusinessRequest) -> tuple[ActivityFilterForm, activity.ActivityFilters]:
    form = ActivityFilterForm(
        request.GET,
        kinds=[(key, label) for key, (label, _) in activity.KINDS.items()],
        members=[(pk, name) for pk, name, _ in member_choices(business=request.business)],
    )
    if not form.is_valid():
        return form, activity.ActivityFilters()
    data = form.cleaned_data
    return form, activity.ActivityFilters(
        kind=data.get("kind") or "",
        actor_id=data.get("member"),
        since=_day_start(data.get("since")),
        until=_day_start(data["until"] + dt.timedelta(days=1)) if data.get("until") else None,
    )


def _day_start(day: dt.date | None) -> dt.datetime | None:
    if day is None:
        return None
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


@require_GET
@business_admin_required
def activity_log(request: BusinessRequest) -> HttpResponse:
    form, filters = _filters(request)
    before = request.GET.get("before", "")
    page = activity.activity_page(
        business=request.business, filters=filters, before=int(before) if before.isdigit() else None
    )
    graph_since = filters.since or timezone.now() - GRAPH_DEFAULT_PERIOD
    context = {
        "form": form,
        "filters": filters,
        "filter_query": filters.as_query(),
        "page": page,
        "graph_since": graph_since,
        "graph_pages": activity.graph_call_summary(business=request.business, since=graph_since, until=filters.until),
        "graph_failures": activity.graph_call_failures(
            business=request.business, since=graph_since, until=filters.until
        ),
        "retention_form": RetentionForm(
            initial={
                "activity_retention_days": request.business.activity_retention_days,
                "graph_call_retention_days": request.business.graph_call_retention_days,
            }
        ),
    }
    return render(request, "accounts/activity.html", context)


@require_GET
@business_admin_required
def activity_export(request: BusinessRequest) -> StreamingHttpResponse:
    _, filters = _filters(request)
    audit_record(
        action="activity.exported",
        business=request.business,
        actor=request.user,
        metadata=filters.as_query(),
    )
    response = StreamingHttpResponse(
        activity.activity_csv(business=request.business, filters=filters), content_type="text/csv; charset=utf-8"
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="activity-{request.business.slug}-{stamp}.csv"'
    return response


@require_POST
@business_admin_required
def activity_retention(request: BusinessRequest) -> HttpResponse:
    form = RetentionForm(request.POST)
    if form.is_valid():
        activity.business_retention_set(
            business=request.business,
            actor=request.user,
            activity_days=form.cleaned_data["activity_retention_days"],
            graph_call_days=form.cleaned_data["graph_call_retention_days"],
        )
        messages.success(request, "Saved. Older rows are deleted in the next daily clean-up.")
    else:
        errors = "; ".join(
            f"{form.fields[name].label}: {' '.join(str(e) for e in errs)}" for name, errs in form.errors.items()
        )
        messages.error(request, f"Not saved. {errors}")
    return redirect("accounts:activity_log")
