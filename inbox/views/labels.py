"""Labels: the settings page (owners and admins) and a conversation's checklist (every member). Thin views."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from django import forms
from django.contrib import messages as flash
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts.decorators import business_admin_required, business_required
from inbox import selectors
from inbox.models import Label
from inbox.realtime import render_live
from inbox.services import labels as label_services
from inbox.views.lookups import conversation_or_404
from inbox.views.submit import form_submit

if TYPE_CHECKING:
    import uuid

    from accounts.requests import BusinessRequest

SETTINGS_TEMPLATE = "accounts/labels.html"
LABELS_TEMPLATE = "inbox/_labels.html"


class LabelForm(forms.Form):
    name = forms.CharField(max_length=label_services.NAME_MAX_LENGTH, strip=True)
    colour = forms.ChoiceField(choices=Label.Colour.choices, initial=Label.Colour.GREY, widget=forms.RadioSelect)


class ConversationLabelsForm(forms.Form):
    """A conversation's checklist: the labels ticked now, and those that were ticked when it was shown."""

    labels = forms.TypedMultipleChoiceField(coerce=int, required=False)
    shown = forms.TypedMultipleChoiceField(coerce=int, required=False)

    def __init__(self, *args, choices: list[Label], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name in ("labels", "shown"):
            field = cast(forms.ChoiceField, self.fields[name])
            field.choices = [(label.pk, label.name) for label in choices]


def _label_or_404(request: BusinessRequest, pk: int) -> Label:
    try:
        return selectors.label_get(business=request.business, pk=pk)
    except Label.DoesNotExist:
        raise Http404("No such label.") from None


def _settings_page(
    request: BusinessRequest,
    *,
    form: LabelForm | None = None,
    editing: int | None = None,
    edit_form: LabelForm | None = None,
    status: int = 200,
) -> HttpResponse:
    rows = []
    for label in selectors.label_list(business=request.business):
        bound = edit_form if editing == label.pk else None
        rows.append(
            {
                "label": label,
                "form": bound
                or LabelForm(prefix=f"label-{label.pk}", initial={"name": label.name, "colour": label.colour}),
                "open": bound is not None,
            }
        )
    return render(
        request,
        SETTINGS_TEMPLATE,
        {
            "rows": rows,
            "form": form or LabelForm(),
        },
        status=status,
    )


@never_cache
@require_http_methods(["GET", "POST"])
@business_admin_required
def label_list(request: BusinessRequest) -> HttpResponse:
    """The business's labels; a POST creates one."""
    if request.method != "POST":
        return _settings_page(request)
    form = LabelForm(request.POST)
    label = form_submit(
        form,
        lambda data: label_services.label_create(
            business=request.business, user=request.user, name=data["name"], colour=data["colour"]
        ),
        refusal=label_services.LabelError,
        field="name",
    )
    if label is None:
        return _settings_page(request, form=form, status=400)
    flash.success(request, f"Label “{label.name}” added.")
    return HttpResponseRedirect(reverse("inbox:label_list"))


@require_POST
@business_admin_required
def label_update(request: BusinessRequest, pk: int) -> HttpResponse:
    label = _label_or_404(request, pk)
    form = LabelForm(request.POST, prefix=f"label-{label.pk}")
    saved = form_submit(
        form,
        lambda data: label_services.label_update(
            label=label, user=request.user, name=data["name"], colour=data["colour"]
        ),
        refusal=label_services.LabelError,
        field="name",
    )
    if saved is None:
        return _settings_page(request, editing=label.pk, edit_form=form, status=400)
    flash.success(request, f"Label “{saved.name}” saved.")
    return HttpResponseRedirect(reverse("inbox:label_list"))


@require_POST
@business_admin_required
def label_delete(request: BusinessRequest, pk: int) -> HttpResponse:
    label = _label_or_404(request, pk)
    name = label.name
    label_services.label_delete(label=label, user=request.user)
    flash.success(request, f"Label “{name}” deleted.")
    return HttpResponseRedirect(reverse("inbox:label_list"))


@never_cache
@require_http_methods(["GET", "POST"])
@business_required
def conversation_labels(request: BusinessRequest, public_id: uuid.UUID) -> HttpResponse:
    """A conversation's labels as a checklist (GET: the header's popover for htmx, a page without it); POST saves.

    The POST carries the ticked labels and those ticked when the checklist was shown: only the
    difference is applied. htmx gets the live fragments back, as for every other action.
    """
    conversation = conversation_or_404(request, public_id)
    labels = selectors.label_list(business=request.business)
    if request.method == "POST":
        form = ConversationLabelsForm(request.POST, choices=labels)
        if not form.is_valid():
            # An id that is not one of the business's labels (deleted meanwhile, or never ours).
            raise Http404("No such label.")
        ticked, shown = set(form.cleaned_data["labels"]), set(form.cleaned_data["shown"])
        label_services.conversation_labels_change(
            conversation=conversation, user=request.user, add_ids=ticked - shown, remove_ids=shown - ticked
        )
        if request.htmx:
            return HttpResponse(render_live(business_id=request.business.pk, conversation_ids=[conversation.pk]))
        flash.success(request, "Labels saved.")
        return HttpResponseRedirect(conversation.get_absolute_url())
    current = {label.pk for label in conversation.labels.all()}
    context = {"conversation": conversation, "labels": labels, "current": current}
    if request.htmx:
        return render(request, LABELS_TEMPLATE + "#checklist", context)
    return render(request, "inbox/conversation_labels.html", context)
