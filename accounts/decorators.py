"""View decorators that resolve the tenant; views behind them always see a concrete `request.business`."""

from __future__ import annotations

from functools import wraps
from typing import TYPE_CHECKING

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect

from accounts.middleware import resolve_membership

if TYPE_CHECKING:
    from collections.abc import Callable

    from django.http import HttpRequest
    from django.http.response import HttpResponseBase

    from accounts.requests import BusinessRequest


def business_required(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Logged in and a member of a business; a user without one is sent to create one."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponseBase:
        membership = resolve_membership(request)
        if membership is None:
            return redirect("accounts:business_create")
        typed: BusinessRequest = request  # type: ignore[assignment]  # what this decorator guarantees
        typed.membership = membership
        typed.business = membership.business
        return view(request, *args, **kwargs)

    return wrapper


def business_admin_required(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """As business_required, and the member is an owner or admin of the current business."""

    @business_required
    @wraps(view)
    def wrapper(request: BusinessRequest, *args, **kwargs) -> HttpResponseBase:
        if not request.membership.can_manage:
            raise PermissionDenied("Only owners and admins can do this.")
        return view(request, *args, **kwargs)

    return wrapper
