"""Saved replies: the settings page (owners and admins) and the composer's picker (every member). Thin views."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django import forms
from django.contrib import messages as flash
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.decorators import business_admin_required, business_required
from inbox import selectors
from inbox.models import SavedReply
from inbox.services import saved_replies as saved_reply_services
from inbox.views.lookups import conversation_or_404
from inbox.views.submit import form_submit

if TYPE_CHECKING:
    import uuid

    from accounts.requests import BusinessRequest

SETTINGS_TEMPLATE = "accounts/saved_replies.html"
PICKER_TEMPLATE = "inbox/_saved_replies.html#picker-items"


class SavedReplyForm(forms.Form):
    code = forms.CharField(
        max_length=saved_reply_services.CODE_MAX_LENGTH + 1,
        strip=True,
        help_text="Letters, digits, - and _. Staff type / and the code in the reply box.",
    )
    text = forms.CharField(
        max_length=saved_reply_services.TEXT_MAX_LENGTH,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="{{first_name}} becomes the customer's first name (or “there”), {{agent_name}} your name.",
    )


def _saved_reply_or_404(request: BusinessRequest, pk: int) -> SavedReply:
    try:
        return selectors.saved_reply_get(business=request.business, pk=pk)
    except SavedReply.DoesNotExist:
        raise Http404("No such saved reply.") from None


def _settings_page(
    request: BusinessRequest,
    *,
    form: SavedReplyForm | None = None,
    editing: int | None = None,
    edit_form: SavedReplyForm | None = None,
    status: int = 200,
) -> HttpResponse:
    rows = []
    for saved_reply in selectors.saved_reply_list(business=request.business):
        bound = edit_form if editing == saved_reply.pk else None
        rows.append(
            {
                "reply": saved_reply,
                "form": bound
                or SavedReplyForm(
                    prefix=f"reply-{saved_reply.pk}", initial={"code": saved_reply.code, "text": saved_reply.text}
                ),
                "open": bound is not None,
            }
        )
    return render(request, SETTINGS_TEMPLATE, {"rows": rows, "form": form or SavedReplyForm()}, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
@business_admin_required
def saved_reply_list(request: BusinessRequest) -> HttpResponse:
    """The business's saved replies; a POST adds one."""
    if request.method != "POST":
        return _settings_page(request)
    form = SavedReplyForm(request.POST)
    saved_reply = form_submit(
        form,
        lambda data: saved_reply_services.saved_reply_create(
            business=request.business, user=request.user, code=data["code"], text=data["text"]
        ),
        refusal=saved_reply_services.SavedReplyError,
        field="code",
    )
    if saved_reply is None:
        return _settings_page(request, form=form, status=400)
    flash.success(request, f"Saved reply /{saved_reply.code} added.")
    return HttpResponseRedirect(reverse("inbox:saved_reply_list"))


@require_POST
@business_admin_required
def saved_reply_update(request: BusinessRequest, pk: int) -> HttpResponse:
    saved_reply = _saved_reply_or_404(request, pk)
    form = SavedReplyForm(request.POST, prefix=f"reply-{saved_reply.pk}")
    saved = form_submit(
        form,
        lambda data: saved_reply_services.saved_reply_update(
            saved_reply=saved_reply, user=request.user, code=data["code"], text=data["text"]
        ),
        refusal=saved_reply_services.SavedReplyError,
        field="code",
    )
    if saved is None:
        return _settings_page(request, editing=saved_reply.pk, edit_form=form, status=400)
    flash.success(request, f"Saved reply /{saved.code} saved.")
    return HttpResponseRedirect(reverse("inbox:saved_reply_list"))


@require_POST
@business_admin_required
def saved_reply_delete(request: BusinessRequest, pk: int) -> HttpResponse:
    saved_reply = _saved_reply_or_404(request, pk)
    code = saved_reply.code
    saved_reply_services.saved_reply_delete(saved_reply=saved_reply, user=request.user)
    flash.success(request, f"Saved reply /{code} deleted.")
    return HttpResponseRedirect(reverse("inbox:saved_reply_list"))


@never_cache
@require_GET
@business_required
def saved_reply_picker(request: BusinessRequest, public_id: uuid.UUID) -> HttpResponse:
    """The composer's list of saved replies (`?q=` narrows it by code and text); the page loads it once per pane."""
    conversation = conversation_or_404(request, public_id)
    replies = selectors.saved_reply_list(business=request.business, q=request.GET.get("q", "")[:100])
    return render(request, PICKER_TEMPLATE, {"conversation": conversation, "replies": replies})


@never_cache
@require_GET
@business_required
def saved_reply_fill(request: BusinessRequest, public_id: uuid.UUID, reply_pk: int) -> HttpResponse:
    """The saved reply's text with its placeholders filled for this conversation and this member: plain text."""
    conversation = conversation_or_404(request, public_id)
    saved_reply = _saved_reply_or_404(request, reply_pk)
    text = saved_reply_services.saved_reply_fill(saved_reply=saved_reply, conversation=conversation, user=request.user)
    response = HttpResponse(text, content_type="text/plain; charset=utf-8")
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
