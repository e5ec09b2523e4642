"""htmx requests that fail get a calm notice, never a page where a fragment belongs.

An htmx request is answered by a fragment that the page places somewhere (the conversation pane,
a row, the composer). When the request fails on the way — the session ended, the member lost the
business or switched to another one in another tab, a 404, a server error — Django's ordinary
answer is a whole page: the login form (the browser follows the redirect silently), the "create a
business" form, the 404 page (with DEBUG, the debug page). Swapped into the pane, that page
replaces the conversation and drops the reply staff were typing.

So, for htmx requests only, this middleware answers those cases with a small notice fragment, a
status that says what happened (401 signed out, 403 no access, 409 a stale page, 404, 5xx) and
`HX-Reswap: none`. The page script (static/js/inbox.js) shows the fragment in the notice area of
base.html and keeps the draft. Every other request is passed through untouched.

Pages send the business they were rendered for (`X-Inbox-Business`, base.html); a request from a
tab that still shows another business than the session's is refused before the view runs, so one
business's list or conversation is never mixed into a page of another.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import resolve_url
from django.template.loader import render_to_string
from django.urls import reverse

from accounts.middleware import resolve_membership
from accounts.selectors import membership_for

if TYPE_CHECKING:
    from collections.abc import Callable

    from django.http import HttpRequest

logger = logging.getLogger(__name__)

NOTICE_TEMPLATE = "htmx_notice.html"
# Names the notice's kind; the page script shows the body of any response carrying it, and only those.
NOTICE_HEADER = "X-Inbox-Notice"
# The business the sending page was rendered for (base.html puts it in hx-headers).
BUSINESS_HEADER = "X-Inbox-Business"
# htmx requests whose URL is a page of its own (they push it into the address bar): after signing
# in, staff return to that URL; for any other request (an action, a fragment) to the page it came from.
NAVIGATION_TARGETS = frozenset({"conversation-pane", "list-column"})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


@dataclass(frozen=True)
class Notice:
    kind: str
    status: int
    title: str
    text: str
    action_label: str = ""
    action_url: str = ""


class HtmxErrorMiddleware:
    """Innermost middleware: it sees the view's answer (and Django's 404/500 answers) first."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        htmx = getattr(request, "htmx", None)
        if not htmx or htmx.history_restore_request:
            # A history restore wants a whole page, as a normal navigation does.
            return self.get_response(request)
        notice = _stale_business(request)
        if notice is not None:
            return _notice_response(notice)
        response = self.get_response(request)
        if response.has_header(NOTICE_HEADER):
            return response
        notice = _notice_for(request, response)
        return response if notice is None else _notice_response(notice)


def _stale_business(request: HttpRequest) -> Notice | None:
    """A notice when the page was rendered for another business than the session's current one."""
    claimed = request.headers.get(BUSINESS_HEADER, "")
    user = getattr(request, "user", None)
    if not claimed.isdigit() or user is None or not user.is_authenticated:
        return None
    claimed_id = int(claimed)
    current = resolve_membership(request)
    if current is not None and current.business_id == claimed_id:
        return None
    shown = membership_for(user=user, business_id=claimed_id)
    if shown is not None and shown.business_id == claimed_id and current is not None:
        # Still a member of both: naming them tells this person nothing new.
        name = current.business.name
        return Notice(
            kind="switched", status=409,
            title=f"You switched to {name} in another tab",
            text=f"This tab still shows {shown.business.name}, so nothing was sent or changed. Anything you typed "
                 "stays here with its conversation.",
            action_label=f"Go to {name}", action_url=reverse("inbox:conversation_list"),
        )
    return _no_access()


def _no_access() -> Notice:
    # Never name the business: the header is the client's word, and this user is no member of it.
    return Notice(
        kind="no_access", status=403,
        title="You no longer have access to this business",
        text="Nothing was sent or changed. If you think this is a mistake, ask an owner of the business.",
        action_label="Your businesses", action_url=reverse("accounts:business_list"),
    )


def _notice_for(request: HttpRequest, response: HttpResponse) -> Notice | None:
    status = response.status_code
    if status in REDIRECT_STATUSES:
        path = urlsplit(response.get("Location", "")).path
        if path == resolve_url(settings.LOGIN_URL):
            return _signed_out(request)
        if path == reverse("accounts:business_create"):
            # business_required sends a user without any business to create one.
            return _no_access()
        return None
    user = getattr(request, "user", None)
    signed_in = user is not None and user.is_authenticated
    if status in (401, 403) and not signed_in:
        return _signed_out(request)
    if status == 403 and request.method not in SAFE_METHODS and not getattr(request, "csrf_processing_done", False):
        # The CSRF check refused it: the page's token is older than the session (signed in again elsewhere).
        return Notice(
            kind="stale", status=403,
            title="This page is out of date",
            text="You signed in again in another tab or window, so nothing was sent or changed. Reload to carry "
                 "on; anything you typed is kept.",
            action_label="Reload", action_url=_return_url(request),
        )
    if status == 403:
        return Notice(
            kind="forbidden", status=403,
            title="You cannot do this",
            text="Your role in this business does not allow it, so nothing was changed.",
        )
    if status == 404:
        return Notice(
            kind="not_found", status=404,
            title="This is no longer available",
            text="It may have been removed, or it belongs to a business you are not working in right now. "
                 "Nothing was sent or changed.",
            action_label="Reload", action_url=_return_url(request),
        )
    if status >= 500:
        return Notice(
            kind="error", status=status,
            title="Something went wrong on our side",
            text="Anything you typed is kept. Try again in a moment; if it keeps happening, reload the page.",
            action_label="Reload", action_url=_return_url(request),
        )
    return None



def _signed_out(request: HttpRequest) -> Notice:
    query = urlencode({"next": _return_url(request)})
    return Notice(
        kind="signed_out", status=401,
        title="You were signed out",
        text="Nothing was sent or changed. Sign in again to carry on; anything you typed is kept and comes "
             "back.",
        action_label="Sign in", action_url=f"{resolve_url(settings.LOGIN_URL)}?{query}",
    )


def _return_url(request: HttpRequest) -> str:
    """Where staff should land again: the page they were on (a path on this site, never another host)."""
    if request.method == "GET" and request.htmx.target in NAVIGATION_TARGETS:
        return request.get_full_path()
    current = urlsplit(request.htmx.current_url or "")
    path = current.path
    if not path.startswith("/") or path.startswith("//"):
        return resolve_url(settings.LOGIN_REDIRECT_URL)
    return f"{path}?{current.query}" if current.query else path


def _notice_response(notice: Notice) -> HttpResponse:
    body: str
    try:
        body = render_to_string(NOTICE_TEMPLATE, {"notice": notice})
    except Exception:
        # The notice must not fail where the page failed (a database that is down, say).
        logger.exception("Could not render the %s notice", notice.kind)
        body = ""
    response = HttpResponse(body, status=notice.status, content_type="text/html; charset=utf-8")
    response[NOTICE_HEADER] = notice.kind
    response["HX-Reswap"] = "none"
    response["Cache-Control"] = "no-store"
    return response
