"""Inbox pages and actions. Thin: resolve the tenant, call a selector or service, render.

Pages render whole for a normal request and as one partial of the same template for htmx. Actions
are POSTs; for htmx they answer with the same live fragments the other staff receive over the
socket (`inbox.realtime.render_live`), so the acting page and everyone else's change alike.
"""

from __future__ import annotations

import mimetypes
import posixpath
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib import messages as flash
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.functional import SimpleLazyObject
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts.decorators import business_required
from inbox import selectors
from inbox.forms import FilterForm, PriorityForm, ReplyForm, SnoozeForm
from inbox.models import Attachment, ChatMessage, Contact, Conversation
from inbox.realtime import MAX_MESSAGES_PER_PUSH, render_live
from inbox.services import collisions as collision_services
from inbox.services import conversations as conversation_services
from inbox.services import notices as notice_services
from inbox.services import replies as reply_services
from inbox.views.lookups import conversation_or_404
from social.token_expiry import banner_of

if TYPE_CHECKING:
    import uuid
    from collections.abc import Sequence

    from django.http import HttpRequest

    from accounts.requests import BusinessRequest

LIST_TEMPLATE = "inbox/conversation_list.html"
DETAIL_TEMPLATE = "inbox/conversation_detail.html"
# Media a browser may show inline from our origin; anything else (HTML, SVG, PDF…) is a download.
INLINE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp", "video/", "audio/")
# Messages re-sent on a reconnect so ticks that changed while the page was offline are current.
CATCH_UP_REFRESH = 20
# Messages per page of history: a screenful and then some; older ones load as staff scroll up.
MESSAGE_PAGE_SIZE = 30


def _page_size() -> int:
    return int(getattr(settings, "INBOX_PAGE_SIZE", 50))


def _list_context(request: BusinessRequest, *, rows: bool = True, part: str = "") -> dict:
    """The list column's context; without `rows`, its rows are left for the page to load after it.

    A `part` of the list (its rows, its results) needs neither the page's notices nor its labels, and
    its counters only when it has no rows.
    """
    form = FilterForm(request.GET)
    filters = form.filters(user_id=request.user.pk)
    page = selectors.conversation_list(
        business=request.business, filters=filters, cursor=form.cursor_value(), limit=_page_size()
    ) if rows else None
    context = {
        "list_url": reverse("inbox:conversation_list"),
        "filters": filters,
        "filter_query": filters.as_query(),
        "page": page,
        "defer_results": not rows,
    }
    if part not in ("conversation-rows", "results"):
        context["business_labels"] = selectors.label_list(business=request.business)
    if part:
        # Read on first use: a page of results or rows reads it only for its empty state.
        context["counters"] = SimpleLazyObject(lambda: selectors.inbox_counters(business=request.business))
    else:
        counters = selectors.inbox_counters(business=request.business)
        context["counters"] = counters
        context["policy_notices"] = selectors.policy_notices(counters=counters)
        # The access banner (social's context processor) from the same accounts, without its own query.
        context["access_banner"] = banner_of(row.account for row in counters.accounts)
    return context


@never_cache
@require_GET
@business_required
def conversation_list(request: BusinessRequest) -> HttpResponse:
    part = ""
    if request.htmx and not request.htmx.history_restore_request:
        if request.GET.get("cursor"):
            part = "conversation-rows"
        elif request.htmx.target == "conversation-results":
            part = "results"
        else:
            part = "list-column"
    # A search opened by its address (a reload, a shared link): the page first, its results right after
    # (the same request the search box makes as staff type).
    rows = bool(part) or not request.GET.get("q", "").strip()
    context = _list_context(request, rows=rows, part=part)
    return render(request, f"{LIST_TEMPLATE}#{part}" if part else LIST_TEMPLATE, context)


@never_cache
@require_GET
@business_required
def conversation_detail(request: BusinessRequest, public_id: uuid.UUID) -> HttpResponse:
    conversation = conversation_or_404(request, public_id)
    was_unread = conversation.unread_count > 0
    conversation_services.conversation_mark_read(conversation=conversation, user=request.user)
    # Opened from search results (`q`): at the newest message that matched, which the page highlights.
    q = FilterForm(request.GET).filters().q
    match_page = selectors.message_list_around(conversation=conversation, q=q, limit=MESSAGE_PAGE_SIZE) if q else None
    context = {
        "conversation": conversation,
        "message_page": match_page or selectors.message_list(conversation=conversation, limit=MESSAGE_PAGE_SIZE),
        "match_id": match_page.match_id if match_page else None,
        "match_q": q,
        "window": reply_services.reply_window(conversation=conversation),
        "form": ReplyForm(),
    }
    if request.htmx and not request.htmx.history_restore_request:
        if was_unread:
            # Opening it read it: its row and the unread badges change with the pane, from the very
            # fragments the push carries (the push may come late, or not at all without a socket).
            context["live_fragments"] = render_live(
                business_id=request.business.pk, conversation_ids=[conversation.pk], pane_ids=()
            )
        return render(request, DETAIL_TEMPLATE + "#conversation-pane", context)
    # Opened by its address (a link, a reload): the thread is what was asked for, so the page carries it
    # and the list column without its rows, which the page fetches at once (the list view's #results).
    context.update(_list_context(request, rows=False))
    return render(request, DETAIL_TEMPLATE, context)


@never_cache
@require_GET
@business_required
def message_list(request: BusinessRequest, public_id: uuid.UUID) -> HttpResponse:
    """Older messages (`?before=<cursor>`, on scroll), newer ones below a search match (`?newer=<cursor>`) or,
    after a reconnect, what came since (`?after=<id>`)."""
    conversation = conversation_or_404(request, public_id)
    after = request.GET.get("after")
    if after is not None:
        try:
            after_id = int(after)
        except ValueError:
            raise Http404("Bad position.") from None
        newer = selectors.messages_after(conversation=conversation, after_id=after_id, limit=MAX_MESSAGES_PER_PUSH + 1)
        recent = (
            ChatMessage.objects.for_business(request.business)
            .filter(conversation=conversation, pk__lte=after_id)
            .order_by("-timestamp", "-id")
            .values_list("pk", flat=True)[:CATCH_UP_REFRESH]
        )
        html = render_live(
            business_id=request.business.pk, conversation_ids=[conversation.pk],
            message_ids=[*list(recent), *(m.pk for m in newer)],
        )
        return HttpResponse(html)
    newer_than = request.GET.get("newer")
    if newer_than is not None:
        # Scrolling down from a search match (conversation_detail with `q`) towards the newest message.
        cursor = selectors.cursor_decode(newer_than)
        if cursor is None:
            raise Http404("Bad position.")
        newer_page = selectors.message_list_newer(conversation=conversation, cursor=cursor, limit=MESSAGE_PAGE_SIZE)
        return render(
            request, DETAIL_TEMPLATE + "#newer-messages", {"conversation": conversation, "message_page": newer_page}
        )
    page = selectors.message_list(
        conversation=conversation, cursor=request.GET.get("before"), limit=MESSAGE_PAGE_SIZE
    )
    return render(request, DETAIL_TEMPLATE + "#older-messages", {"conversation": conversation, "message_page": page})


def _action_response(request: BusinessRequest, conversation: Conversation, *, message_ids: Sequence[int] = ()) -> HttpResponse:
    if request.htmx:
        return HttpResponse(
            render_live(business_id=request.business.pk, conversation_ids=[conversation.pk], message_ids=message_ids)
        )
    return HttpResponseRedirect(conversation.get_absolute_url())


@require_POST
@business_required
def reply(request: BusinessRequest, public_id: uuid.UUID) -> HttpResponse:
    conversation = conversation_or_404(request, public_id)
    form = ReplyForm(request.POST, request.FILES)
    error = ""
    # Someone else replied since this page was loaded: held, with a "Send anyway" (confirm_collision=1).
    seen = collision_services.seen_message_id(request.POST.get("seen"))
    collision = None
    if form.is_valid() and request.POST.get("confirm_collision") != "1":
        collision = collision_services.reply_collision(conversation=conversation, user=request.user, seen_id=seen)
    if collision is not None:
        error = collision.warning()
    elif form.is_valid():
        try:
            sent = reply_services.reply_send_all(
                conversation=conversation, user=request.user, text=form.cleaned_data["text"],
                upload=form.cleaned_data.get("file"), uploads=form.cleaned_data.get("attachments") or [],
                quick_replies=form.cleaned_data["quick_replies"],
                reply_to=_quoted_or_error(request, conversation, form.cleaned_data.get("reply_to")),
            )
        except reply_services.ReplyError as exc:
            error = str(exc)
        else:
            return _action_response(request, conversation, message_ids=[m.pk for m in sent])
    else:
        error = " ".join(str(e) for e in form.errors.get("__all__", [])) or "Check the reply and try again."
    if not request.htmx:
        flash.error(request, error)
        return HttpResponseRedirect(conversation.get_absolute_url())
    context = {
        "conversation": conversation,
        "window": reply_services.reply_window(conversation=conversation),
        "error": error,
        "text": request.POST.get("text", ""),
        "quick_replies": [t for t in request.POST.getlist("quick_reply") if t.strip()][:20],
        "live": True,
        "collision": collision,
        "seen_message_id": collision.message_id if collision is not None else seen,
    }
    # 422 keeps htmx from swapping; the page script shows this composer with the error and the text kept.
    return render(request, DETAIL_TEMPLATE + "#composer", context, status=422)


def _quoted_or_error(request: BusinessRequest, conversation: Conversation, pk: int | None) -> ChatMessage | None:
    if pk is None:
        return None
    quoted = ChatMessage.objects.for_business(request.business).filter(pk=pk, conversation=conversation).first()
    if quoted is None:
        raise reply_services.ReplyError("The message you replied to is no longer in this conversation.")
    return quoted


@require_POST
@business_required
def message_retry(request: BusinessRequest, public_id: uuid.UUID) -> HttpResponse:
    message = ChatMessage.objects.for_business(request.business).select_related("conversation").filter(public_id=public_id).first()
    if message is None:
        raise Http404("No such message.")
    try:
        reply_services.reply_retry(message=message, user=request.user)
    except reply_services.ReplyError as exc:
        if not request.htmx:
            flash.error(request, str(exc))
        else:
            return HttpResponse(str(exc), status=409)
    return _action_response(request, message.conversation, message_ids=[message.pk])


# Status changes that take the conversation out of the Open list: without htmx, back to the list.
LEAVES_THE_LIST = {
    "conversation_resolve": "Conversation resolved.",
    "conversation_mark_pending": "Conversation marked pending.",
}


def _conversation_action(service_name: str):
    @require_POST
    @business_required
    def view(request: BusinessRequest, public_id: uuid.UUID) -> HttpResponse:
        conversation = conversation_or_404(request, public_id)
        getattr(conversation_services, service_name)(conversation=conversation, user=request.user)
        if service_name in LEAVES_THE_LIST and not request.htmx:
            flash.success(request, LEAVES_THE_LIST[service_name])
            return HttpResponseRedirect(reverse("inbox:conversation_list"))
        return _action_response(request, conversation)

    view.__name__ = service_name
    return view


conversation_read = _conversation_action("conversation_mark_read")
conversation_unread = _conversation_action("conversation_mark_unread")
conversation_resolve = _conversation_action("conversation_resolve")
conversation_reopen = _conversation_action("conversation_reopen")
conversation_pending = _conversation_action("conversation_mark_pending")
conversation_unsnooze = _conversation_action("conversation_unsnooze")


@require_POST
@business_required
def conversation_snooze(request: BusinessRequest, public_id: uuid.UUID) -> HttpResponse:
    """Snooze until a preset or a typed time, in the staff member's time zone (sent by the page)."""
    conversation = conversation_or_404(request, public_id)
    form = SnoozeForm(request.POST)
    error = ""
    if form.is_valid():
        try:
            conversation_services.conversation_snooze(
                conversation=conversation, user=request.user, until=form.cleaned_data["until"]
            )
        except conversation_services.ConversationError as exc:
            error = str(exc)
    else:
        error = " ".join(str(e) for errors in form.errors.values() for e in errors)
    if error:
        if request.htmx:
            return HttpResponse(error, status=400)
        flash.error(request, error)
        return HttpResponseRedirect(conversation.get_absolute_url())
    if not request.htmx:
        flash.success(request, "Conversation snoozed.")
        return HttpResponseRedirect(reverse("inbox:conversation_list"))
    return _action_response(request, conversation)


@require_POST
@business_required
def conversation_priority(request: BusinessRequest, public_id: uuid.UUID) -> HttpResponse:
    conversation = conversation_or_404(request, public_id)
    form = PriorityForm(request.POST)
    if not form.is_valid():
        return HttpResponse("Unknown priority.", status=400)
    conversation_services.conversation_set_priority(
        conversation=conversation, user=request.user, priority=form.cleaned_data["priority"]
    )
    return _action_response(request, conversation)


def _file_response(*, file, name: str, content_type: str, force_download: bool) -> FileResponse:
    inline = not force_download and content_type.startswith(INLINE_TYPES)
    response = FileResponse(
        file.open("rb"), as_attachment=not inline, filename=name or posixpath.basename(file.name),
        content_type=content_type if inline else "application/octet-stream",
    )
    # A customer's file is never a page of ours: no scripts, no plugins, even if opened directly.
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; media-src 'self'; sandbox"
    response["Cache-Control"] = "private, max-age=3600"
    return response


def _content_type(attachment: Attachment) -> str:
    return attachment.mime_type or mimetypes.guess_type(attachment.file.name or "")[0] or "application/octet-stream"


@require_GET
@business_required
def message_text(request: BusinessRequest, public_id: uuid.UUID) -> HttpResponse:
    """The whole text of a message, for one too long for its bubble: plain text, never HTML."""
    content = (
        ChatMessage.objects.for_business(request.business).filter(public_id=public_id, is_deleted=False)
        .values_list("content", flat=True).first()
    )
    if content is None:
        raise Http404("No such message.")
    response = HttpResponse(content, content_type="text/plain; charset=utf-8")
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@require_GET
@business_required
def attachment_download(request: BusinessRequest, pk: int) -> FileResponse:
    """Our stored copy of an attachment, for the business it belongs to only."""
    attachment = Attachment.objects.for_business(request.business).filter(pk=pk).first()
    if attachment is None or attachment.state != Attachment.State.STORED or not attachment.file:
        raise Http404("This attachment is not stored.")
    return _file_response(
        file=attachment.file, name=attachment.name, content_type=_content_type(attachment),
        force_download=request.GET.get("download") == "1",
    )


@require_GET
def attachment_public(request: HttpRequest, token: str) -> FileResponse:
    """A file staff attached to a reply, fetched by Meta through the signed URL given to the Send API."""
    attachment = reply_services.attachment_from_public_token(token)
    if (
        attachment is None or not attachment.file
        or not ChatMessage.objects.filter(pk=attachment.message_id, direction=ChatMessage.Direction.OUTBOUND).exists()
    ):
        raise Http404("No such file.")
    content_type = _content_type(attachment)
    response = FileResponse(attachment.file.open("rb"), content_type=content_type, filename=attachment.name)
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@require_GET
@business_required
def contact_picture(request: BusinessRequest, pk: int) -> FileResponse:
    contact = Contact.objects.for_business(request.business).filter(pk=pk).only("picture").first()
    if contact is None or not contact.picture:
        raise Http404("No stored picture.")
    content_type = mimetypes.guess_type(contact.picture.name or "")[0] or "image/jpeg"
    return _file_response(file=contact.picture, name="", content_type=content_type, force_download=False)


@require_POST
@business_required
def account_policy_notice_dismiss(request: BusinessRequest, public_id: uuid.UUID) -> HttpResponse:
    """Hide a Page's policy banner (until Meta sends a newer enforcement)."""
    if not notice_services.account_policy_notice_dismiss(
        business=request.business, account_public_id=public_id, user=request.user
    ):
        raise Http404("No such page.")
    return HttpResponseRedirect(reverse("inbox:conversation_list"))


@never_cache
@require_GET
@business_required
def dashboard(request: BusinessRequest) -> HttpResponse:
    rows = selectors.dashboard_rows(business=request.business)
    totals = {
        "unread_conversations": sum(r.unread_conversations for r in rows),
        "unread_messages": sum(r.unread_messages for r in rows),
    }
    return render(
        request, "inbox/dashboard.html",
        {"rows": rows, "totals": totals, "counters": selectors.inbox_counters(business=request.business)},
    )
