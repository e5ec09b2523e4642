"""The Social Accounts page and the Connect Facebook flow (thin: the work is in social/services.py)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.contrib import messages
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from accounts.decorators import business_admin_required, business_required
from social import oauth, selectors, services
from social.exceptions import ConnectRefused
from social.forms import HumanAgentForm, PageChoiceForm
from social.graph import GraphAPIError
from social.models import Platform, SocialAccount

if TYPE_CHECKING:
    import uuid

    from django.http import HttpRequest, HttpResponse

    from accounts.requests import BusinessRequest

logger = logging.getLogger(__name__)


def _account_or_404(request: BusinessRequest, public_id: uuid.UUID) -> SocialAccount:
    try:
        return selectors.account_get(business=request.business, public_id=public_id)
    except SocialAccount.DoesNotExist:
        raise Http404("No such account.") from None


def _callback_uri(request: HttpRequest) -> str:
    return request.build_absolute_uri(reverse("social:connect_callback"))


def _report(request: BusinessRequest, result: services.ConnectResult) -> None:
    if result.connected:
        names = ", ".join(
            f"Instagram @{a.username or a.account_id}" if a.platform == Platform.INSTAGRAM else a.account_name
            for a in result.connected
        )
        messages.success(request, f"Connected: {names}. New messages will appear in the inbox.")
    for refused in result.refused:
        messages.error(request, str(refused))
    for warning in result.warnings:
        messages.warning(request, warning)


@business_required
def account_list(request: BusinessRequest) -> HttpResponse:
    can_manage = request.membership.can_manage
    stashed = oauth.token_stashed(request.session, business_id=request.business.pk) if can_manage else None
    return render(request, "social/account_list.html", {
        "accounts": selectors.account_list(business=request.business),
        "can_manage": can_manage,
        "stashed_name": stashed[1]["name"] or "your Facebook account" if stashed else "",
        # The consent step: what Connect Facebook will ask Meta for, before Meta's dialog asks.
        "connect_permissions": oauth.connect_permissions() if can_manage else [],
    })


@require_POST
@business_admin_required
def connect_start(request: BusinessRequest) -> HttpResponse:
    state = oauth.state_start(request.session, business_id=request.business.pk)
    return HttpResponseRedirect(oauth.dialog_url(redirect_uri=_callback_uri(request), state=state))


@require_POST
@business_admin_required
def account_reconnect(request: BusinessRequest, public_id: uuid.UUID) -> HttpResponse:
    # An Instagram account is reconnected through the Page whose token it uses.
    account = _account_or_404(request, public_id).send_account
    state = oauth.state_start(request.session, business_id=request.business.pk, reconnect_id=account.pk)
    return HttpResponseRedirect(oauth.dialog_url(redirect_uri=_callback_uri(request), state=state))


@business_admin_required
def connect_callback(request: BusinessRequest) -> HttpResponse:
    stored = oauth.state_pop(request.session, state=request.GET.get("state", ""), business_id=request.business.pk)
    if stored is None:
        messages.error(request, "That Facebook sign-in expired or didn't start here. Please connect again.")
        return redirect("social:account_list")
    if request.GET.get("error") or not request.GET.get("code"):
        messages.info(request, "Connecting Facebook was cancelled; nothing changed.")
        return redirect("social:account_list")
    try:
        user_token = services.user_token_from_code(
            code=request.GET["code"], redirect_uri=_callback_uri(request), business=request.business,
            actor=request.user,
        )
    except GraphAPIError as exc:
        messages.error(request, f"Facebook refused the connection: {exc.message}")
        return redirect("social:account_list")
    oauth.token_stash(request.session, user_token=user_token, business_id=request.business.pk)

    reconnect = (
        SocialAccount.objects.for_business(request.business).filter(pk=stored["reconnect_id"]).first()
        if stored.get("reconnect_id") else None
    )
    if reconnect is None:
        return redirect("social:connect_pages")
    instagram_ids = list(
        SocialAccount.objects.for_business(request.business)
        .filter(page=reconnect, platform=Platform.INSTAGRAM)
        .exclude(status=SocialAccount.Status.DISCONNECTED)
        .values_list("account_id", flat=True)
    )
    try:
        result = services.accounts_connect(
            business=request.business, actor=request.user, user_token=user_token,
            page_ids=[reconnect.account_id], instagram_ids=instagram_ids,
        )
    except (ConnectRefused, GraphAPIError) as exc:
        messages.error(request, f"Reconnecting {reconnect.account_name} failed: {exc}")
        return redirect("social:account_list")
    oauth.token_clear(request.session)
    _report(request, result)
    return redirect("social:account_list")


@require_http_methods(["GET", "POST"])
@business_admin_required
def connect_pages(request: BusinessRequest) -> HttpResponse:
    stashed = oauth.token_stashed(request.session, business_id=request.business.pk)
    if stashed is None:
        messages.info(request, "Connect Facebook to choose the Pages for this business.")
        return redirect("social:account_list")
    user_token, info = stashed
    form = PageChoiceForm(request.POST if request.method == "POST" else None)
    try:
        if request.method == "POST" and form.is_valid():
            result = services.accounts_connect(
                business=request.business, actor=request.user, user_token=user_token,
                page_ids=form.cleaned_data["pages"], instagram_ids=form.cleaned_data["instagram"],
            )
            oauth.token_clear(request.session)
            _report(request, result)
            return redirect("social:account_list")
        options = services.facebook_pages_fetch(business=request.business, user_token=user_token, actor=request.user)
    except ConnectRefused as exc:
        oauth.token_clear(request.session)
        messages.error(request, str(exc))
        return redirect("social:account_list")
    except GraphAPIError as exc:
        messages.error(request, f"Facebook didn't list your Pages: {exc.message}. Please try again.")
        return redirect("social:account_list")
    return render(request, "social/connect_pages.html", {
        "form": form, "options": options, "facebook_name": info["name"], "checked": _checked(request, options),
        "connect_permissions": oauth.connect_permissions(),
    })


def _checked(request: HttpRequest, options: list[services.PageOption]) -> set[str]:
    """The ids ticked in the picker: what was sent when a choice is shown again, else every Page (and
    Instagram account) that can be connected: the person just allowed them in Facebook's dialog."""
    if request.method == "POST":
        return set(request.POST.getlist("pages")) | set(request.POST.getlist("instagram"))
    pages = {option.id for option in options if not option.problem}
    instagram = {option.instagram_id for option in options if option.instagram_id and not option.instagram_problem}
    return pages | instagram


@require_POST
@business_admin_required
def connect_cancel(request: BusinessRequest) -> HttpResponse:
    oauth.token_clear(request.session)
    messages.info(request, "No Pages were connected.")
    return redirect("social:account_list")


@require_POST
@business_admin_required
def account_disconnect(request: BusinessRequest, public_id: uuid.UUID) -> HttpResponse:
    account = _account_or_404(request, public_id)
    if account.status == SocialAccount.Status.DISCONNECTED:
        messages.info(request, f"{account.account_name} is already disconnected.")
    elif request.POST.get("confirm") != "yes":
        # The page asks for a tick first (no JavaScript needed); a bare POST changes nothing.
        messages.error(request, f"{account.account_name} is still connected: confirm the disconnection first.")
    else:
        services.account_disconnect(account=account, actor=request.user)
        messages.success(request, f"{account.account_name} is disconnected. Its conversations stay in the inbox.")
    return redirect("social:account_list")


@require_POST
@business_admin_required
def account_human_agent(request: BusinessRequest, public_id: uuid.UUID) -> HttpResponse:
    account = _account_or_404(request, public_id)
    form = HumanAgentForm(request.POST)
    if form.is_valid():
        services.account_set_human_agent(account=account, enabled=form.cleaned_data["enabled"], actor=request.user)
        state = "on" if account.human_agent_enabled else "off"
        messages.success(request, f"Human agent replies (up to 7 days) are {state} for {account.account_name}.")
    return redirect("social:account_list")


@require_POST
@business_admin_required
def account_auto_assign(request: BusinessRequest, public_id: uuid.UUID) -> HttpResponse:
    """Turn automatic assignment of the page's new conversations on or off (owners and admins)."""
    account = _account_or_404(request, public_id)
    form = HumanAgentForm(request.POST)  # the same shape: one "enabled" box
    if form.is_valid():
        services.account_set_auto_assign(account=account, enabled=form.cleaned_data["enabled"], actor=request.user)
        state = "on" if account.auto_assign else "off"
        messages.success(request, f"Automatic assignment of new conversations is {state} for {account.account_name}.")
    return redirect("social:account_list")
