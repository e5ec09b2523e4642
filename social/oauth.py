"""The Connect flow's OAuth plumbing: the Login dialog URL, its state, and the user token kept between
the dialog and the Page picker.

The user token lives only in the server-side session, Fernet-encrypted, for a few minutes; it is
never rendered into HTML nor put in a URL.
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django.conf import settings
from django.utils.crypto import constant_time_compare

from social.crypto import InvalidToken, decrypt, encrypt
from social.services import UserToken

if TYPE_CHECKING:
    from django.contrib.sessions.backends.base import SessionBase

STATE_KEY = "social.connect.state"
TOKEN_KEY = "social.connect.user_token"
STATE_TTL_SECONDS = 15 * 60
TOKEN_TTL_SECONDS = 30 * 60


# Why the inbox needs each permission the connect dialog asks for, in one plain line each (shown
# on the consent step); FACEBOOK_CONNECT_SCOPES lists exactly these.
CONNECT_PERMISSIONS = {
    "pages_show_list": "See the Pages you manage, so you can choose which ones to connect.",
    "pages_messaging": "Receive your Pages' messages and send the replies you write here.",
    "pages_manage_metadata": "Turn on new-message notifications for the Pages you connect.",
    "pages_read_engagement": "Read your Pages' conversations and the names of the people who write to them.",
    "pages_read_user_content": "Read the comments people leave on your Pages' posts.",
    "pages_manage_engagement": "Reply to, hide and delete comments on your Pages' posts when you choose to.",
    "instagram_basic": "See the Instagram account linked to a Page: its username and picture.",
    "instagram_manage_messages": "Receive and answer your Instagram account's direct messages.",
    "instagram_manage_comments": "Receive, reply to, hide and delete comments on your Instagram posts.",
}


def connect_permissions() -> list[tuple[str, str]]:
    """(permission, why) for each permission the connect dialog asks for, in the dialog's order."""
    return [(scope, CONNECT_PERMISSIONS.get(scope, "")) for scope in settings.FACEBOOK_CONNECT_SCOPES]


def dialog_url(*, redirect_uri: str, state: str) -> str:
    """Meta's Login dialog asking for the Page permissions the inbox needs, and no others (§7.6)."""
    params = {
        "client_id": settings.FACEBOOK_APP_ID,
        "redirect_uri": redirect_uri,
        "state": state,
        "response_type": "code",
        "scope": ",".join(settings.FACEBOOK_CONNECT_SCOPES),
        # Ask again for permissions the person declined last time.
        "auth_type": "rerequest",
    }
    return f"{settings.FACEBOOK_DIALOG_URL}?{urlencode(params)}"


def state_start(session: SessionBase, *, business_id: int, reconnect_id: int | None = None) -> str:
    state = secrets.token_urlsafe(24)
    session[STATE_KEY] = {"state": state, "business_id": business_id, "reconnect_id": reconnect_id,
                          "created": time.time()}
    return state


def state_pop(session: SessionBase, *, state: str, business_id: int) -> dict[str, Any] | None:
    """The stored state if `state` matches it, is fresh and belongs to this business; single use."""
    stored = session.pop(STATE_KEY, None)
    if not isinstance(stored, dict) or not state:
        return None
    if not constant_time_compare(str(stored.get("state")), state):
        return None
    if time.time() - float(stored.get("created") or 0) > STATE_TTL_SECONDS or stored.get("business_id") != business_id:
        return None
    return stored


def token_stash(session: SessionBase, *, user_token: UserToken, business_id: int | None, name: str = "") -> None:
    """Keep the user token, encrypted, until the Pages are chosen (business None: any business of the user)."""
    session[TOKEN_KEY] = {
        "token": encrypt(user_token.token),
        "expires_at": user_token.expires_at.timestamp() if user_token.expires_at else None,
        "business_id": business_id,
        "name": name,
        "created": time.time(),
    }


def token_stashed(session: SessionBase, *, business_id: int) -> tuple[UserToken, dict[str, Any]] | None:
    stored = session.get(TOKEN_KEY)
    if not isinstance(stored, dict):
        return None
    if time.time() - float(stored.get("created") or 0) > TOKEN_TTL_SECONDS or stored.get("business_id") not in (
        None, business_id,
    ):
        return None
    try:
        token = decrypt(str(stored.get("token") or ""))
    except InvalidToken:
        return None
    expires = stored.get("expires_at")
    expires_at = datetime.fromtimestamp(float(expires), tz=UTC) if expires else None
    return UserToken(token=token, expires_at=expires_at), {"name": stored.get("name") or ""}


def token_clear(session: SessionBase) -> None:
    session.pop(TOKEN_KEY, None)
