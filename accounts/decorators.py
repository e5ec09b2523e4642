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

    from django.http import HttpRequest, HttpResponse


def business_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Logged in and a member of a business; a user without one is sent to create one."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        membership = resolve_membership(request)
        if membership is None:
            return redirect("accounts:business_create")
        request.membership = membership
        request.business = membership.business
        return view(request, *args, **kwargs)

    return wrapper


def business_admin_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """As business_required, and the member is an owner or admin of the current business."""

    @business_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.membership.can_manage:
            raise PermissionDenied("Only owners and admins can do this.")
        return view(request, *args, **kwargs)

    return wrapper
