"""The page's reaction to a customer's message, and the typing indicator while an agent writes.

Thin: the rules, the audit and the calls to Meta are in `inbox.services.reactions` and
`inbox.services.typing`. A refusal is a 400 with a sentence the page shows as a toast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import messages as flash
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.views.decorators.http import require_POST

from accounts.decorators import business_required
from inbox.models import ChatMessage
from inbox.realtime import render_live
from inbox.services import reactions, typing
from inbox.views.lookups import conversation_or_404

if TYPE_CHECKING:
    import uuid

    from accounts.requests import BusinessRequest


def _message_or_404(request: BusinessRequest, public_id: uuid.UUID) -> ChatMessage:
    message = (
        ChatMessage.objects.for_business(request.business).select_related("conversation__business")
        .filter(public_id=public_id).first()
    )
    if message is None:
        raise Http404("No such message.")
    return message


def _answer(request: BusinessRequest, message: ChatMessage, *, error: str = "") -> HttpResponse:
    if request.htmx:
        if error:
            return HttpResponse(error, status=400, content_type="text/plain; charset=utf-8")
        return HttpResponse(render_live(
            business_id=request.business.pk, conversation_ids=[message.conversation_id], message_ids=[message.pk]
        ))
    if error:
        flash.error(request, error)
    return HttpResponseRedirect(message.conversation.get_absolute_url())


@require_POST
@business_required
def message_react(request: BusinessRequest, public_id: uuid.UUID) -> HttpResponse:
    message = _message_or_404(request, public_id)
    try:
        reactions.message_react(message=message, user=request.user, reaction=request.POST.get("reaction", ""))
    except reactions.ReactionError as exc:
        return _answer(request, message, error=str(exc))
    return _answer(request, message)


@require_POST
@business_required
def message_unreact(request: BusinessRequest, public_id: uuid.UUID) -> HttpResponse:
    message = _message_or_404(request, public_id)
    try:
        reactions.message_unreact(message=message, user=request.user)
    except reactions.ReactionError as exc:
        return _answer(request, message, error=str(exc))
    return _answer(request, message)


@require_POST
@business_required
def conversation_typing(request: BusinessRequest, public_id: uuid.UUID) -> HttpResponse:
    """204 whether or not the throttle let a sender action through (the browser need not know)."""
    conversation = conversation_or_404(request, public_id)
    action = request.POST.get("action", "typing_on")
    if action not in typing.TYPING_ACTIONS:
        return HttpResponse("action must be typing_on or typing_off.", status=400,
                            content_type="text/plain; charset=utf-8")
    typing.conversation_typing(conversation=conversation, action=action)
    return HttpResponse(status=204)
