from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import roles, selectors, services
from accounts.decorators import business_admin_required, business_required
from accounts.exceptions import AccountsError
from accounts.forms import (
    BusinessForm,
    InvitationForm,
    InvitationSignupForm,
    MediaPolicyForm,
    MemberRoleForm,
    ProfileForm,
)
from accounts.middleware import SESSION_KEY
from accounts.models import Invitation, Membership

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse

# The link's token moves from the URL into the session at once (as allauth does for password reset
# keys), so later pages, redirects (?next=) and error logs never carry it.
INVITATION_SESSION_KEY = "accounts_invitation_token"


def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("inbox:conversation_list")
    return redirect("account_login")


@login_required
def business_create(request: HttpRequest) -> HttpResponse:
    form = BusinessForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            business = services.business_create(name=form.cleaned_data["name"], owner=request.user)
        except AccountsError as exc:
            form.add_error("name", str(exc))
        else:
            request.session[SESSION_KEY] = business.pk
            messages.success(request, f"{business.name} is ready. Connect a Facebook Page to start receiving messages.")
            return redirect("social:account_list")
    return render(request, "accounts/business_form.html", {"form": form})


@login_required
def business_list(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/business_list.html", {"memberships": selectors.membership_list(user=request.user)})


@require_POST
@login_required
def business_switch(request: HttpRequest, business_id: int) -> HttpResponse:
    membership = Membership.objects.filter(user=request.user, business_id=business_id).first()
    if membership is None:
        raise Http404("No such business.")
    request.session[SESSION_KEY] = membership.business_id
    return redirect("inbox:conversation_list")


# --- the business's settings ------------------------------------------------------------------------------


@business_admin_required
def business_settings(request: HttpRequest) -> HttpResponse:
    """What the business stores of its customers' media (owners and admins)."""
    business = request.business
    allowed = bool(getattr(settings, "INBOX_STORE_MEDIA", {}).get("INSTAGRAM", True))
    # An unticked box sends nothing: an empty POST is still a submitted form.
    form = MediaPolicyForm(request.POST if request.method == "POST" else None, allowed=allowed,
                           initial={"instagram_media_store": business.instagram_media_store})
    if request.method == "POST" and form.is_valid():
        if allowed:
            services.business_media_policy_set(
                business=business, instagram_media_store=form.cleaned_data["instagram_media_store"],
                actor=request.user,
            )
            messages.success(request, "Saved. It applies to media received from now on.")
        return redirect("accounts:business_settings")
    return render(request, "accounts/business_settings.html", {"form": form, "instagram_allowed": allowed})


# --- the signed-in person ------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    """The person's own display name (shown to colleagues on replies, notes and mentions), time zone and clock."""
    user = request.user
    if request.method == "POST":
        form = ProfileForm(request.POST)
        if form.is_valid():
            try:
                services.user_display_name_set(user=user, name=form.cleaned_data["name"])
                services.user_clock_set(
                    user=user, time_zone=form.cleaned_data["time_zone"], clock=form.cleaned_data["clock"]
                )
            except AccountsError as exc:
                form.add_error("name", str(exc))
            else:
                messages.success(request, "Your profile was saved.")
                return redirect("accounts:profile")
    else:
        form = ProfileForm(initial={"name": user.name, "time_zone": user.time_zone, "clock": user.clock})
    return render(request, "accounts/profile.html", {"form": form})


# --- the team ---------------------------------------------------------------------------------------------


@business_required
def team(request: HttpRequest) -> HttpResponse:
    viewer = request.membership
    return render(request, "accounts/team.html", {
        "rows": selectors.team_rows(business=request.business, viewer=viewer),
        "invitations": selectors.invitation_rows(business=request.business, viewer=viewer),
        "form": InvitationForm(role_choices=roles.grantable_roles(viewer.role)),
        "can_manage": roles.can_manage_team(viewer.role),
        "teams": selectors.team_groups(business=request.business),
    })


@require_POST
@business_admin_required
def invitation_create(request: HttpRequest) -> HttpResponse:
    form = InvitationForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter a valid email address and role.")
        return redirect("accounts:team")
    try:
        sent = services.invitation_send(
            business=request.business, email=form.cleaned_data["email"], role=form.cleaned_data["role"],
            invited_by=request.user,
        )
    except AccountsError as exc:
        messages.error(request, str(exc))
    else:
        invitation = sent.invitation
        if sent.resent:
            messages.success(request, f"{invitation.email} was already invited: a new link was sent "
                                      f"(as {invitation.get_role_display()}); the previous link no longer works.")
        else:
            messages.success(request, f"Invitation sent to {invitation.email} as {invitation.get_role_display()}. "
                                      "They join when they accept it.")
    return redirect("accounts:team")


def _invitation_action(request: HttpRequest, invitation_id: int, action: Callable[..., object], done: str) -> HttpResponse:
    """Run ``action`` on one of this business's invitations and say how it went on the team page."""
    invitation = get_object_or_404(Invitation.objects.for_business(request.business), pk=invitation_id)
    try:
        action(invitation=invitation, actor=request.user)
    except AccountsError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done.format(email=invitation.email))
    return redirect("accounts:team")


@require_POST
@business_admin_required
def invitation_resend(request: HttpRequest, invitation_id: int) -> HttpResponse:
    return _invitation_action(request, invitation_id, services.invitation_resend,
                              "A new link was sent to {email}; the previous one no longer works.")


@require_POST
@business_admin_required
def invitation_revoke(request: HttpRequest, invitation_id: int) -> HttpResponse:
    return _invitation_action(request, invitation_id, services.invitation_revoke,
                              "The invitation for {email} was withdrawn; its link no longer works.")


@require_POST
@business_admin_required
def member_remove(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = get_object_or_404(Membership.objects.for_business(request.business), pk=membership_id)
    if request.POST.get("confirm") != "yes":
        # The team page asks for a tick first; a bare POST (an old form, a stray request) changes nothing.
        messages.error(request, f"{membership.user.email} was not removed: confirm the removal first.")
        return redirect("accounts:team")
    try:
        services.membership_remove(membership=membership, removed_by=request.user)
    except AccountsError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{membership.user.email} was removed.")
    return redirect("accounts:team")


@require_POST
@business_admin_required
def member_role(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = get_object_or_404(Membership.objects.for_business(request.business), pk=membership_id)
    form = MemberRoleForm(request.POST)
    who = membership.user.display_name or membership.user.email
    if not form.is_valid():
        messages.error(request, f"The role of {who} was not changed: choose one of the roles in the list.")
        return redirect("accounts:team")
    old = membership.role
    try:
        changed = services.membership_change_role(
            membership=membership, role=form.cleaned_data["role"], changed_by=request.user
        )
    except AccountsError as exc:
        messages.error(request, f"The role of {who} was not changed: {exc}")
    else:
        if changed.role == old:
            messages.info(request, f"The role of {who} was already {changed.get_role_display()}; nothing changed.")
        else:
            messages.success(request, f"The role of {who} is now {changed.get_role_display()}.")
    return redirect("accounts:team")


# --- accepting an invitation ------------------------------------------------------------------------------


def _invitation_gone(request: HttpRequest, message: str, *, status: int) -> HttpResponse:
    return render(request, "accounts/invitation_gone.html", {"message": message}, status=status)


NOT_VALID = "This invitation link is not valid (any more). If you were sent a newer one, use that; otherwise ask for a new invitation."


@require_GET
def invitation_open(request: HttpRequest, token: str) -> HttpResponse:
    """The link in the email: check it, keep the token in the session, continue on a URL without it."""
    invitation = selectors.invitation_by_token(token=token)
    if invitation is None:
        return _invitation_gone(request, NOT_VALID, status=404)
    if not invitation.is_usable:
        return _invitation_gone(request, services.GONE_MESSAGES[invitation.state], status=410)
    request.session[INVITATION_SESSION_KEY] = token
    return redirect("accounts:invitation_accept")


@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest) -> HttpResponse:
    token = request.session.get(INVITATION_SESSION_KEY)
    invitation = selectors.invitation_by_token(token=token) if token else None
    if invitation is None:
        request.session.pop(INVITATION_SESSION_KEY, None)
        return _invitation_gone(request, "Open the link in your invitation email to accept it.", status=404)
    if not invitation.is_usable:
        request.session.pop(INVITATION_SESSION_KEY, None)
        return _invitation_gone(request, services.GONE_MESSAGES[invitation.state], status=410)
    if request.user.is_authenticated:
        return _accept_as_user(request, invitation, token)
    if selectors.user_exists(email=invitation.email):
        messages.info(request, f"Sign in as {invitation.email} to accept the invitation to {invitation.business.name}.")
        query = urlencode({"next": reverse("accounts:invitation_accept")})
        return redirect(f"{reverse('account_login')}?{query}")
    return _accept_as_new_user(request, invitation)


def _joined(request: HttpRequest, membership: Membership) -> HttpResponse:
    request.session.pop(INVITATION_SESSION_KEY, None)
    request.session[SESSION_KEY] = membership.business_id
    messages.success(request, f"Welcome to {membership.business.name}: you joined as {membership.get_role_display()}.")
    return redirect("inbox:conversation_list")


def _accept_as_user(request: HttpRequest, invitation: Invitation, token: str) -> HttpResponse:
    context = {"invitation": invitation}
    if not selectors.has_verified_address(user=request.user, email=invitation.email):
        # Another person's link, or this person's address not yet verified: nothing is granted.
        same_address = request.user.email.lower() == invitation.email
        context.update(
            state="unverified" if same_address else "wrong_user",
            # After logging out, the same link opens again for whoever signs in next.
            reopen_url=reverse("accounts:invitation_open", args=[token]),
        )
        return render(request, "accounts/invitation_accept.html", context, status=403)
    if request.method == "POST":
        try:
            membership = services.invitation_accept(invitation=invitation, user=request.user)
        except AccountsError as exc:
            context.update(state="accept", error=str(exc))
            return render(request, "accounts/invitation_accept.html", context, status=400)
        return _joined(request, membership)
    context.update(state="accept")
    return render(request, "accounts/invitation_accept.html", context)


def _accept_as_new_user(request: HttpRequest, invitation: Invitation) -> HttpResponse:
    form = InvitationSignupForm(request.POST or None, email=invitation.email)
    if request.method == "POST" and form.is_valid():
        try:
            membership = services.invitation_accept_new_user(
                invitation=invitation, password=form.cleaned_data["password1"], name=form.cleaned_data["name"],
            )
        except AccountsError as exc:
            form.add_error(None, str(exc))
        else:
            login(request, membership.user, backend="django.contrib.auth.backends.ModelBackend")
            return _joined(request, membership)
    return render(request, "accounts/invitation_accept.html", {"invitation": invitation, "state": "new_user", "form": form})
