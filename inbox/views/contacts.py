"""The contact panel beside a thread: the panel itself (loaded by htmx when a conversation opens), its notes
and details form, the "same person" search, merging and splitting identities. Thin: resolve the tenant's
conversation (another business's is a 404), call one service or selector, answer the panel's fragments.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.contrib import messages as flash
from django.core.exceptions import BadRequest
from django.http import Http404, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.decorators import business_required
from inbox import selectors
from inbox.models import Contact, Conversation
from inbox.services import contact_profile
from inbox.views.lookups import conversation_or_404

if TYPE_CHECKING:
    import uuid

    from accounts.requests import BusinessRequest

PANEL_TEMPLATE = "inbox/_contact_panel.html"
# Blank rows the details form offers below the saved ones (the script adds more, up to the limit).
BLANK_ROWS = 2


class ContactProfileForm(forms.Form):
    """Notes, and the details as rows of name and value (`key` / `value` repeated, in order)."""

    notes = forms.CharField(
        required=False, strip=False, max_length=contact_profile.NOTES_MAX_CHARS, widget=forms.Textarea
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rows: list[tuple[str, str]] = []
        if self.is_bound:
            data = cast(QueryDict, self.data)
            keys, values = data.getlist("key"), data.getlist("value")
            # More rows than a form can have is not a person typing: refuse before reading them.
            if len(keys) > contact_profile.ATTRIBUTES_MAX + BLANK_ROWS or len(values) != len(keys):
                self.rows = []
                self._too_many = True
            else:
                self.rows = list(zip(keys, values, strict=True))
                self._too_many = False

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if getattr(self, "_too_many", False):
            raise forms.ValidationError(f"Keep to {contact_profile.ATTRIBUTES_MAX} details.")
        try:
            cleaned["notes"] = contact_profile.notes_clean(cleaned.get("notes", ""))
            cleaned["attributes"] = contact_profile.attributes_clean(self.rows)
        except contact_profile.ContactProfileError as exc:
            raise forms.ValidationError(str(exc)) from None
        return cleaned


def _contact_or_404(request: BusinessRequest) -> Contact:
    """The contact named in the POST: one of this business's, a 404 for anyone else's (a 400 for no id)."""
    try:
        pk = int(request.POST.get("contact", ""))
    except ValueError:
        raise BadRequest("Pick a contact.") from None
    try:
        return Contact.objects.for_business(request.business).get(pk=pk)
    except Contact.DoesNotExist:
        raise Http404("No such contact.") from None


def _editor_rows(form: ContactProfileForm | None, contact: Contact) -> list[tuple[str, str]]:
    # As the panel lists them (PostgreSQL keeps no order of a JSON object's keys).
    saved = sorted(contact.attributes.items(), key=lambda pair: pair[0])
    rows = form.rows if form is not None and form.is_bound else saved
    room = max(contact_profile.ATTRIBUTES_MAX - len(rows), 0)
    return [*rows, *[("", "")] * min(BLANK_ROWS, room)]


def _answer(request: BusinessRequest, conversation: Conversation) -> HttpResponse:
    """After an action: the panel's fragments (htmx places them by id, and closes the editor and the
    search), or back to the conversation without a script."""
    if not request.htmx:
        return HttpResponseRedirect(conversation.get_absolute_url())
    html = contact_profile.contact_panels_html(business=request.business, conversation_ids=[conversation.pk])
    tools = render(request, PANEL_TEMPLATE + "#tools", {"conversation": conversation}).content.decode()
    return HttpResponse(html + "\n" + tools)


@never_cache
@require_GET
@business_required
def contact_panel(request: BusinessRequest, public_id: uuid.UUID) -> HttpResponse:
    conversation = conversation_or_404(request, public_id)
    panel = selectors.contact_panel(business=request.business, conversation=conversation)
    return render(request, PANEL_TEMPLATE + "#panel", {"panel": panel, "conversation": conversation})


@never_cache
@require_http_methods(["GET", "POST"])
@business_required
def contact_profile_edit(request: BusinessRequest, public_id: uuid.UUID) -> HttpResponse:
    """GET: the notes and details form (opened in the panel); POST saves it."""
    conversation = conversation_or_404(request, public_id)
    contact = conversation.contact
    form: ContactProfileForm | None = None
    if request.method == "POST":
        form = ContactProfileForm(request.POST)
        if form.is_valid():
            try:
                contact_profile.contact_profile_update(
                    business=request.business,
                    user=request.user,
                    contact=contact,
                    notes=form.cleaned_data["notes"],
                    attributes=form.cleaned_data["attributes"],
                )
            except contact_profile.ContactProfileError as exc:
                form.add_error(None, str(exc))
            else:
                if not request.htmx:
                    flash.success(request, "Notes saved.")
                return _answer(request, conversation)
    context = {
        "conversation": conversation,
        "contact": contact,
        "form": form or ContactProfileForm(initial={"notes": contact.notes}),
        "rows": _editor_rows(form, contact),
        "attributes_max": contact_profile.ATTRIBUTES_MAX,
    }
    # 422: the page's script puts the form back with its errors and what was typed (static/js/inbox.js).
    status = 422 if form is not None else 200
    return render(request, PANEL_TEMPLATE + "#editor", context, status=status)


@never_cache
@require_GET
@business_required
def contact_search(request: BusinessRequest, public_id: uuid.UUID) -> HttpResponse:
    """The "same person as…" type-ahead: this business's contacts matching `q`, as options to pick."""
    conversation = conversation_or_404(request, public_id)
    q = request.GET.get("q", "")
    if "\x00" in q:
        q = ""
    found = selectors.contact_search(business=request.business, q=q, conversation=conversation)
    context = {"conversation": conversation, "found": found, "q": q.strip()}
    return render(request, PANEL_TEMPLATE + "#search-results", context)


@require_POST
@business_required
def contact_merge(request: BusinessRequest, public_id: uuid.UUID) -> HttpResponse:
    conversation = conversation_or_404(request, public_id)
    other = _contact_or_404(request)
    try:
        contact_profile.contacts_merge(
            business=request.business, user=request.user, contact=conversation.contact, other=other
        )
    except contact_profile.ContactProfileError as exc:
        return _refused(request, conversation, str(exc))
    return _answer(request, conversation)


@require_POST
@business_required
def contact_split(request: BusinessRequest, public_id: uuid.UUID) -> HttpResponse:
    """Take one identity out of this conversation's customer (this contact, or one joined to it)."""
    conversation = conversation_or_404(request, public_id)
    contact = _contact_or_404(request)
    person_id = conversation.contact.person_id
    if person_id is None or contact.person_id != person_id:
        raise Http404("That contact is not joined to this customer.")
    try:
        contact_profile.contact_split(business=request.business, user=request.user, contact=contact)
    except contact_profile.ContactProfileError as exc:
        return _refused(request, conversation, str(exc))
    return _answer(request, conversation)


def _refused(request: BusinessRequest, conversation: Conversation, reason: str) -> HttpResponse:
    if request.htmx:
        # A short 4xx text: the page's script shows it as a toast (static/js/inbox.js).
        return HttpResponse(reason, status=409, content_type="text/plain; charset=utf-8")
    flash.error(request, reason)
    return HttpResponseRedirect(conversation.get_absolute_url())
