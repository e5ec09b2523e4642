from __future__ import annotations

from typing import TYPE_CHECKING

from allauth.account.forms import ResetPasswordForm
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts import selectors, services
from accounts.decorators import business_admin_required, business_required
from accounts.exceptions import AccountsError
from accounts.forms import BusinessForm, MemberAddForm, MemberRoleForm
from accounts.middleware import SESSION_KEY
from accounts.models import Membership

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse


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


@business_required
def team(request: HttpRequest) -> HttpResponse:
    form = MemberAddForm()
    return render(
        request,
        "accounts/team.html",
        {"members": selectors.team_list(business=request.business), "form": form, "role_choices": Membership.Role.choices},
    )


@require_POST
@business_admin_required
def member_add(request: HttpRequest) -> HttpResponse:
    form = MemberAddForm(request.POST)
    if form.is_valid():
        try:
            membership = services.membership_add(
                business=request.business, email=form.cleaned_data["email"], role=form.cleaned_data["role"],
                added_by=request.user,
            )
        except AccountsError as exc:
            messages.error(request, str(exc))
        else:
            if not membership.user.has_usable_password():
                # A new person chooses their password through the reset link.
                reset = ResetPasswordForm(data={"email": membership.user.email})
                if reset.is_valid():
                    reset.save(request)
            messages.success(request, f"{membership.user.email} was added as {membership.get_role_display()}.")
    else:
        messages.error(request, "Enter a valid email address and role.")
    return redirect("accounts:team")


@require_POST
@business_admin_required
def member_remove(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = get_object_or_404(Membership.objects.for_business(request.business), pk=membership_id)
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
    if form.is_valid():
        try:
            services.membership_change_role(membership=membership, role=form.cleaned_data["role"], changed_by=request.user)
        except AccountsError as exc:
            messages.error(request, str(exc))
    return redirect("accounts:team")
