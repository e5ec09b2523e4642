"""The team page's Teams card: owners and admins create, rename and delete teams and set their members."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from accounts import services
from accounts.decorators import business_admin_required
from accounts.exceptions import AccountsError
from accounts.forms import AssignmentSettingsForm
from accounts.models import Team

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse


def _back() -> HttpResponse:
    response = redirect("accounts:team")
    response["Location"] += "#teams"
    return response


T = TypeVar("T")


def _run(request: HttpRequest, action: Callable[[], T], success: Callable[[T], str]) -> None:
    """One service call: its refusal, or the success line made from its result, goes to the messages."""
    try:
        result = action()
    except AccountsError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, success(result))


def _team_or_404(request: HttpRequest, team_id: int) -> Team:
    return get_object_or_404(Team.objects.for_business(request.business).select_related("business"), pk=team_id)


@require_POST
@business_admin_required
def team_create(request: HttpRequest) -> HttpResponse:
    _run(
        request,
        lambda: services.team_create(business=request.business, name=request.POST.get("name", ""), actor=request.user),
        lambda team: f"Team {team.name} created. Add its members below.",
    )
    return _back()


@require_POST
@business_admin_required
def team_rename(request: HttpRequest, team_id: int) -> HttpResponse:
    team = _team_or_404(request, team_id)
    _run(
        request,
        lambda: services.team_rename(team=team, name=request.POST.get("name", ""), actor=request.user),
        lambda renamed: f"Team renamed to {renamed.name}.",
    )
    return _back()


@require_POST
@business_admin_required
def team_delete(request: HttpRequest, team_id: int) -> HttpResponse:
    team = _team_or_404(request, team_id)
    if request.POST.get("confirm") != "yes":
        messages.error(request, f"Team {team.name} was not deleted: confirm the deletion first.")
        return _back()
    name = team.name
    _run(
        request,
        lambda: services.team_delete(team=team, actor=request.user),
        lambda _: f"Team {name} deleted; its conversations keep their assignees.",
    )
    return _back()


@require_POST
@business_admin_required
def team_members(request: HttpRequest, team_id: int) -> HttpResponse:
    team = _team_or_404(request, team_id)
    try:
        ids = [int(value) for value in request.POST.getlist("members")]
    except ValueError:
        messages.error(request, "Pick members from the list.")
        return _back()
    _run(
        request,
        lambda: services.team_set_members(team=team, membership_ids=ids, actor=request.user),
        lambda _: f"Members of {team.name} saved.",
    )
    return _back()


@require_POST
@business_admin_required
def assignment_settings(request: HttpRequest) -> HttpResponse:
    """The settings page's Assignment card: assign on first reply, and the limit per agent."""
    form = AssignmentSettingsForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter a limit of 0 (none) or more open conversations per agent.")
    else:
        _run(
            request,
            lambda: services.business_assignment_settings_set(
                business=request.business,
                auto_assign_on_reply=form.cleaned_data["auto_assign_on_reply"],
                assign_capacity=form.cleaned_data["assign_capacity"],
                actor=request.user,
            ),
            lambda _: "Assignment settings saved.",
        )
    response = redirect("accounts:business_settings")
    response["Location"] += "#assignment"
    return response
