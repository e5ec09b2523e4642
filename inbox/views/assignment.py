"""Assigning a conversation: the header's picker and its one action. Thin, as every view.

The picker's contents (members, teams) are fetched when staff open it, so the header that every
push carries stays one row's worth of HTML. The action answers htmx with the live fragments the
other staff receive (`inbox.realtime.render_live`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import messages as flash
from django.db.models import Q
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts.decorators import business_required
from accounts.models import Membership, Team
from inbox.forms import AssignForm
from inbox.models import Conversation
from inbox.realtime import render_live
from inbox.services import assignment
from inbox.views.lookups import conversation_or_404

if TYPE_CHECKING:
    import uuid

    from accounts.requests import BusinessRequest

PICKER_TEMPLATE = "inbox/_assignee_picker.html"
NOT_A_MEMBER = "Pick a member of the business."


def _members(request: BusinessRequest):
    return (
        Membership.objects.for_business(request.business).select_related("user").order_by("user__name", "user__email")
    )


@never_cache
@require_GET
@business_required
def assignee_picker(request: BusinessRequest, public_id: uuid.UUID) -> HttpResponse:
    """The picker's form: a type-ahead of the business's members (a datalist) and the team select."""
    conversation = conversation_or_404(request, public_id)
    context = {
        "conversation": conversation,
        "members": list(_members(request)),
        "teams": list(Team.objects.for_business(request.business).order_by("name", "id")),
    }
    if request.htmx:
        return render(request, PICKER_TEMPLATE, context)
    return render(request, "inbox/assign.html", context)


def _assignee(request: BusinessRequest, form: AssignForm):
    """The chosen member (a User), None to clear, or UNCHANGED; AssignmentError for anyone else."""
    value = form.cleaned_data["assignee"]
    typed = form.cleaned_data["assignee_name"]
    if value == "none":
        return None
    if value == "me":
        return request.user
    members = _members(request)
    if value:
        membership = members.filter(user_id=int(value)).first()
    elif typed:
        # What the type-ahead shows is "Name <email>"; the email alone or the name alone also do.
        email = typed.rsplit("<", 1)[-1].rstrip(">").strip() if "<" in typed else typed
        found = list(members.filter(Q(user__email__iexact=email) | Q(user__name__iexact=typed))[:2])
        membership = found[0] if len(found) == 1 else None
    else:
        return assignment.UNCHANGED
    if membership is None:
        raise assignment.AssignmentError(NOT_A_MEMBER)
    return membership.user


def _team(request: BusinessRequest, form: AssignForm):
    value = form.cleaned_data["team"]
    if value == "":
        return assignment.UNCHANGED
    if value == "none":
        return None
    team = Team.objects.for_business(request.business).filter(pk=int(value)).first()
    if team is None:
        raise assignment.AssignmentError("Pick one of the business's teams.")
    return team


def _refused(request: BusinessRequest, conversation: Conversation, error: str) -> HttpResponse:
    if request.htmx:
        # Not swapped (a 4xx); the page script shows the reason as a toast.
        return HttpResponse(error, status=400, content_type="text/plain; charset=utf-8")
    flash.error(request, error)
    return HttpResponseRedirect(conversation.get_absolute_url())


@require_POST
@business_required
def conversation_assign(request: BusinessRequest, public_id: uuid.UUID) -> HttpResponse:
    """Set the assignee ("me", "none", a member) and/or the team ("none", a team) of one conversation."""
    conversation = conversation_or_404(request, public_id)
    form = AssignForm(request.POST)
    if not form.is_valid():
        return _refused(request, conversation, "Pick a member or a team.")
    try:
        assignee = _assignee(request, form)
        team = _team(request, form)
        assignment.conversation_assign(conversation=conversation, actor=request.user, assignee=assignee, team=team)
    except assignment.AssignmentError as exc:
        return _refused(request, conversation, str(exc))
    if request.htmx:
        return HttpResponse(render_live(business_id=request.business.pk, conversation_ids=[conversation.pk]))
    return HttpResponseRedirect(conversation.get_absolute_url())
