"""Actions on one comment of a comment thread: public reply, private reply, hide / unhide, delete.

Thin: resolve the comment within the current business (anyone else's is a 404), call the comments
service, answer htmx with the live fragments (or a 400 with the reason), a plain form with a redirect.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import messages as flash
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.views.decorators.http import require_POST

from accounts.decorators import business_required
from inbox import selectors
from inbox.models import ChatMessage
from inbox.realtime import render_live
from inbox.services import comments as comment_services

if TYPE_CHECKING:
    import uuid
    from collections.abc import Callable

    from accounts.requests import BusinessRequest


def _comment_or_404(request: BusinessRequest, public_id: uuid.UUID) -> ChatMessage:
    try:
        comment = comment_services.comment_get(business=request.business, public_id=public_id)
    except ChatMessage.DoesNotExist:
        raise Http404("No such comment.") from None
    # The same visibility as the conversation itself.
    if not selectors.conversation_queryset(business=request.business).filter(pk=comment.conversation_id).exists():
        raise Http404("No such comment.")
    return comment


def _act(request: BusinessRequest, public_id: uuid.UUID, action: Callable[[ChatMessage], list[int]]) -> HttpResponse:
    comment = _comment_or_404(request, public_id)
    back = comment.conversation.get_absolute_url()
    try:
        message_ids = action(comment)
    except comment_services.CommentError as exc:
        if request.htmx:
            return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
        flash.error(request, str(exc))
        return HttpResponseRedirect(back)
    if request.htmx:
        return HttpResponse(render_live(
            business_id=request.business.pk, conversation_ids=[comment.conversation_id],
            message_ids=[comment.pk, *message_ids],
        ))
    return HttpResponseRedirect(back)


@require_POST
@business_required
def comment_reply(request: BusinessRequest, public_id: uuid.UUID) -> HttpResponse:
    def reply(comment: ChatMessage) -> list[int]:
        sent = comment_services.comment_reply_public(comment=comment, user=request.user,
                                                     text=request.POST.get("text", ""))
        return [sent.pk]

    return _act(request, public_id, reply)


@require_POST
@business_required
def comment_private_reply(request: BusinessRequest, public_id: uuid.UUID) -> HttpResponse:
    def reply(comment: ChatMessage) -> list[int]:
        comment_services.comment_private_reply(comment=comment, user=request.user, text=request.POST.get("text", ""))
        return []

    return _act(request, public_id, reply)


@require_POST
@business_required
def comment_hide(request: BusinessRequest, public_id: uuid.UUID) -> HttpResponse:
    hidden = request.POST.get("hidden", "1") != "0"

    def hide(comment: ChatMessage) -> list[int]:
        comment_services.comment_hide(comment=comment, user=request.user, hidden=hidden)
        return []

    return _act(request, public_id, hide)


@require_POST
@business_required
def comment_delete(request: BusinessRequest, public_id: uuid.UUID) -> HttpResponse:
    def delete(comment: ChatMessage) -> list[int]:
        comment_services.comment_delete(comment=comment, user=request.user)
        return []

    return _act(request, public_id, delete)
