"""Handover Protocol actions in the conversation header: take the thread back, pass it to Page Inbox,
ask Meta who owns it. Thin: the calls to Meta and their audit are in `inbox.services.handover`.

Each answers htmx with the live fragments the other staff receive (`inbox.realtime.render_live`);
Meta's refusal is a 400 with a sentence the page shows as a toast (a web request never retries).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import messages as flash
from django.http import HttpResponse, HttpResponseRedirect
from django.views.decorators.http import require_POST

from accounts.decorators import business_required
from inbox.models import Conversation
from inbox.realtime import render_live
from inbox.services import handover
from inbox.views.lookups import conversation_or_404

if TYPE_CHECKING:
    import uuid
    from collections.abc import Callable

    from accounts.requests import BusinessRequest


def _answer(request: BusinessRequest, conversation: Conversation, *, error: str = "", done: str = "") -> HttpResponse:
    if request.htmx:
        if error:
            # Not swapped (a 4xx); the page script shows the reason as a toast.
            return HttpResponse(error, status=400, content_type="text/plain; charset=utf-8")
        return HttpResponse(render_live(business_id=request.business.pk, conversation_ids=[conversation.pk]))
    if error:
        flash.error(request, error)
    elif done:
        flash.success(request, done)
    return HttpResponseRedirect(conversation.get_absolute_url())


def _action(act: Callable[[Conversation, BusinessRequest], str]):
    @require_POST
    @business_required
    def view(request: BusinessRequest, public_id: uuid.UUID) -> HttpResponse:
        conversation = conversation_or_404(request, public_id)
        try:
            done = act(conversation, request)
        except handover.HandoverError as exc:
            return _answer(request, conversation, error=str(exc))
        return _answer(request, conversation, done=done)

    view.__name__ = act.__name__
    return view


def _take(conversation: Conversation, request: BusinessRequest) -> str:
    handover.thread_take(conversation=conversation, actor=request.user)
    return "You have the conversation: replies from this inbox go out again."


def _pass(conversation: Conversation, request: BusinessRequest) -> str:
    handover.thread_pass(conversation=conversation, actor=request.user)
    return "The conversation is with Page Inbox now."


def _check(conversation: Conversation, request: BusinessRequest) -> str:
    owner = handover.thread_owner_refresh(conversation=conversation, actor=request.user)
    return f"{conversation.thread_owner_name} has the conversation." if owner else "This inbox has the conversation."


thread_take = _action(_take)
thread_pass = _action(_pass)
thread_owner_check = _action(_check)
