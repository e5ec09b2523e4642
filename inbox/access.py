"""Access to an open inbox socket ends live: removal, sign-out, password change, business switch.

Each socket joins, besides its business's group, the group of its user and of its session (by a
hash of the session key: the key itself is a credential and never goes into a group name). The
receivers in `inbox.signals` send one of these events there after commit, whatever path made the
change (team page, admin, shell, management command):

- ``access.revoked`` with a reason (and, for a removal, the business): the socket ends at once;
- ``access.recheck``: the user changed (password, deactivated); each socket verifies itself with
  `access_problem()` and ends only if it no longer holds;
- ``access.session``: the session was saved with this business chosen; a socket following
  another one ends ("switched").

The consumer also runs `access_problem()` at most once per `RECHECK_SECONDS` before forwarding a
push, so a lost event cannot leak more than about that much data.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from importlib import import_module

from django.conf import settings
from django.contrib.auth import SESSION_KEY as AUTH_USER_SESSION_KEY
from django.db import transaction
from django.utils.crypto import constant_time_compare

from accounts.middleware import SESSION_KEY
from accounts.models import Membership
from config import channel_send

logger = logging.getLogger(__name__)

# How stale a socket's permission may be when a push goes out, should an event above be lost.
RECHECK_SECONDS = 1.0

REMOVED = "removed"
SIGNED_OUT = "signed_out"
SESSION_ENDED = "session_ended"
PASSWORD_CHANGED = "password_changed"
SWITCHED = "switched"

# Application close codes (4000-4999); the page's script shows the matching notice and, since they
# are deliberate, does not reconnect.
CLOSE_CODES = {
    SIGNED_OUT: 4401, SESSION_ENDED: 4401, PASSWORD_CHANGED: 4401,
    REMOVED: 4403,
    SWITCHED: 4409,
}


def user_group(user_id: int) -> str:
    return f"inbox.user.{user_id}"


def session_group(session_key: str) -> str:
    return "inbox.session." + hashlib.sha256(session_key.encode()).hexdigest()[:32]


# --- reads (the consumer calls these through database_sync_to_async) -------------------------------


@dataclass(frozen=True)
class Followed:
    business_id: int
    business_name: str


def followed_business(*, user_id: int, chosen) -> Followed | None:
    """The business this socket may follow, or None.

    With a business chosen in the session, the user must belong to exactly that one (a stale or
    forged choice is refused, never replaced); without a choice, their first business, as the
    pages show it.
    """
    memberships = Membership.objects.filter(user_id=user_id).select_related("business")
    if chosen is not None:
        business_id = _as_int(chosen)
        if business_id is None:
            return None
        membership = memberships.filter(business_id=business_id).first()
    else:
        membership = memberships.order_by("created_at", "id").first()
    if membership is None:
        return None
    return Followed(business_id=membership.business_id, business_name=membership.business.name)


def access_problem(*, user_id: int, business_id: int, session_key: str | None, auth_hash: str | None) -> str | None:
    """Why this socket must end now (one of the reasons above), or None while it may stay.

    Two reads: the membership with its user, and the session as the HTTP pages would load it.
    """
    membership = Membership.objects.filter(user_id=user_id, business_id=business_id).select_related("user").first()
    if membership is None:
        return REMOVED
    user = membership.user
    if not user.is_active:
        return SIGNED_OUT
    # The hash the session held when the socket connected (channels checked it then): a new
    # password gives a new hash, as for every other session of this user.
    if auth_hash is not None and not _hash_matches(user, auth_hash):
        return PASSWORD_CHANGED
    if session_key is None:
        return None
    data = import_module(settings.SESSION_ENGINE).SessionStore(session_key).load()
    if str(data.get(AUTH_USER_SESSION_KEY)) != str(user_id):
        return SESSION_ENDED
    chosen = data.get(SESSION_KEY)
    if chosen is not None and _as_int(chosen) != business_id:
        return SWITCHED
    return None


def _hash_matches(user, auth_hash: str) -> bool:
    if constant_time_compare(auth_hash, user.get_session_auth_hash()):
        return True
    return any(constant_time_compare(auth_hash, h) for h in user.get_session_auth_fallback_hash())


def _as_int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --- what the page is told --------------------------------------------------------------------------


def end_frame(*, reason: str, business_name: str) -> str:
    """The control frame sent before closing: JSON, which a push (HTML) never is."""
    if reason == REMOVED:
        message, action = f"You no longer have access to {business_name}.", "Reload"
    elif reason == SWITCHED:
        message, action = "You switched to another business in another tab.", "Reload"
    elif reason == PASSWORD_CHANGED:
        message, action = "Your password was changed. Sign in again to continue.", "Sign in"
    else:
        message, action = "You were signed out.", "Sign in"
    return json.dumps({
        "type": "access.ended", "reason": reason, "code": CLOSE_CODES[reason], "message": message,
        "action": action,
    })


# --- sending (after commit; best effort, like the pushes) -------------------------------------------


def revoke_business_on_commit(*, user_id: int, business_id: int) -> None:
    """The user left this business: their sockets following it end."""
    _send_on_commit(user_group(user_id), {"type": "access.revoked", "reason": REMOVED, "business_id": business_id})


def revoke_session_on_commit(*, session_key: str, reason: str) -> None:
    _send_on_commit(session_group(session_key), {"type": "access.revoked", "reason": reason})


def recheck_user_on_commit(*, user_id: int) -> None:
    _send_on_commit(user_group(user_id), {"type": "access.recheck"})


def session_business_on_commit(*, session_key: str, business_id) -> None:
    _send_on_commit(session_group(session_key), {"type": "access.session", "business_id": _as_int(business_id)})


def _send_on_commit(group: str, event: dict) -> None:
    transaction.on_commit(lambda: _send(group, event))


def _send(group: str, event: dict) -> None:
    try:
        channel_send.group_send(group, event)
    except Exception:
        # The consumer's own recheck before each push still ends the socket within RECHECK_SECONDS.
        logger.exception("Could not tell open inboxes that access ended (%s)", event.get("type"))
