"""The API keys settings page: owners and admins create (the secret shown once) and revoke keys."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django import forms
from django.contrib import messages as flash
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts.decorators import business_admin_required
from api import keys
from api.models import ApiKey

if TYPE_CHECKING:
    from accounts.requests import BusinessRequest

TEMPLATE = "api/api_keys.html"


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=keys.NAME_MAX_LENGTH, strip=True, help_text="What will use it, e.g. “CRM sync”.")
    scope = forms.ChoiceField(
        choices=ApiKey.Scope.choices, initial=ApiKey.Scope.READ, widget=forms.RadioSelect,
        help_text="Read: list and read. Read and write: also reply, assign, resolve, label and mark read.",
    )


def _page(request: BusinessRequest, *, form: ApiKeyForm | None = None, created: keys.NewKey | None = None,
          status: int = 200) -> HttpResponse:
    context = {
        "form": form or ApiKeyForm(),
        "api_keys": keys.api_key_list(business=request.business),
        "created": created,
    }
    return render(request, TEMPLATE, context, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
@business_admin_required
def api_key_list(request: BusinessRequest) -> HttpResponse:
    """The business's keys; a POST creates one and shows its secret on this answer only (never stored)."""
    if request.method != "POST":
        return _page(request)
    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        return _page(request, form=form, status=400)
    try:
        created = keys.api_key_create(
            business=request.business, user=request.user, name=form.cleaned_data["name"],
            scope=form.cleaned_data["scope"],
        )
    except keys.ApiKeyError as exc:
        form.add_error("name", str(exc))
        return _page(request, form=form, status=400)
    return _page(request, created=created)


@require_POST
@business_admin_required
def api_key_revoke(request: BusinessRequest, pk: int) -> HttpResponse:
    key = ApiKey.objects.for_business(request.business).filter(pk=pk).first()
    if key is None:
        raise Http404("No such API key.")
    keys.api_key_revoke(key=key, user=request.user)
    flash.success(request, f"API key “{key.name}” revoked: it no longer works.")
    return HttpResponseRedirect(reverse("api:api_key_list"))
