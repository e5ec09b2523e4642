"""Private notes and the @mention type-ahead. Thin: resolve the tenant, call the notes service, answer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import messages as flash
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts.decorators import business_required
from accounts.selectors import member_choices
from inbox.realtime import render_live
from inbox.reply_window import reply_window
from inbox.services import notes as note_services
from inbox.views.lookups import conversation_or_404

if TYPE_CHECKING:
    import uuid

    from accounts.requests import BusinessRequest

DETAIL_TEMPLATE = "inbox/conversation_detail.html"


@require_POST
@business_required
def note_create(request: BusinessRequest, public_id: uuid.UUID) -> HttpResponse:
    conversation = conversation_or_404(request, public_id)
    try:
        note = note_services.note_create(
            conversation=conversation, user=request.user, text=request.POST.get("text", "")
        )
    except note_services.NoteError as exc:
        if not request.htmx:
            flash.error(request, str(exc))
            return HttpResponseRedirect(conversation.get_absolute_url())
        context = {
            "conversation": conversation,
            "window": reply_window(conversation=conversation),
            "live": True,
            "composer_mode": "note",
            "note_error": str(exc),
            "note_text": request.POST.get("text", ""),
        }
        # 422: htmx swaps nothing; the page script places this composer with the error and the text kept.
        return render(request, DETAIL_TEMPLATE + "#composer", context, status=422)
    if request.htmx:
        return HttpResponse(render_live(business_id=request.business.pk, message_ids=[note.pk]))
    return HttpResponseRedirect(conversation.get_absolute_url())


@never_cache
@require_GET
@business_required
def mention_members(request: BusinessRequest) -> JsonResponse:
    """The business's members for the @mention list of the note composer: everyone but the writer."""
    members = [
        {"id": pk, "name": name, "handle": email.split("@")[0]}
        for pk, name, email in member_choices(business=request.business)
        if pk != request.user.pk
    ]
    return JsonResponse({"members": members})
