"""A Page's Messenger profile: greeting, ice breakers and persistent menu (docs/messenger-platform.md,
"Messenger profile").

Owners and admins edit it on the page's settings screen; ``profile_parse`` checks it against Meta's
limits, ``messenger_profile_push`` stores it (``MessengerProfile``: what we asked for, when, by whom)
and sends it with ``POST /{page-id}/messenger_profile`` in Meta's shapes, deleting the properties
left empty; then reads back what Meta keeps. Meta's refusal is stored on the row and shown; a web
request never retries. Each push is audited; each Graph call is audited by the client's hooks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.db import transaction
from django.utils import timezone

from accounts.services import audit_record
from social.graph import GraphAPIError, RateLimitError, TokenInvalidError, TransientGraphError
from social.models import MessengerProfile, Platform, SocialAccount
from social.services import account_graph_client

if TYPE_CHECKING:
    from collections.abc import Mapping

    from accounts.models import User

logger = logging.getLogger(__name__)

GREETING_MAX = 160
ICE_BREAKERS_MAX = 4
QUESTION_MAX = 80
MENU_MAX = 5
TITLE_MAX = 30
PAYLOAD_MAX = 1000
URL_MAX = 2000
FIELDS = "greeting,ice_breakers,persistent_menu"
# Meta shows a persistent menu only with a Get Started button; ours sends this payload as a postback.
GET_STARTED_PAYLOAD = "GET_STARTED"
POSTBACK, WEB_URL = "postback", "web_url"
ERROR_LENGTH = 1000


class ProfilePushError(Exception):
    """Meta refused or failed the push; the text is for staff, and is stored on the profile."""


@dataclass
class ProfileDraft:
    """What the form asks for, checked; ``errors`` by field name ("" for the form as a whole)."""

    greeting: str = ""
    ice_breakers: list[dict[str, str]] = field(default_factory=list)
    menu: list[dict[str, str]] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def is_valid(self) -> bool:
        return not self.errors


def field_numbers(data: Mapping[str, Any], prefix: str) -> list[int]:
    found = set()
    for key in data:
        if key.startswith(prefix):
            number = key[len(prefix):].split("_", 1)[0]
            if number.isdigit():
                found.add(int(number))
    return sorted(found)


def _text(data: Mapping[str, Any], key: str) -> str:
    return str(data.get(key) or "").strip()


def profile_parse(data: Mapping[str, Any]) -> ProfileDraft:
    """The form's fields (``greeting``, ``ice_<n>_question|payload``, ``menu_<n>_type|title|value``),
    checked against Meta's limits. Rows left blank are dropped; a half-filled row is an error."""
    draft = ProfileDraft(greeting=_text(data, "greeting"))
    errors = draft.errors
    if len(draft.greeting) > GREETING_MAX:
        errors["greeting"] = f"The greeting can be at most {GREETING_MAX} characters ({len(draft.greeting)} now)."
    for n in field_numbers(data, "ice_"):
        question, payload = _text(data, f"ice_{n}_question"), _text(data, f"ice_{n}_payload")
        if not question and not payload:
            continue
        key = f"ice_{n}"
        if not question or not payload:
            errors[key] = "An ice breaker needs a question and a payload."
        elif len(question) > QUESTION_MAX:
            errors[key] = f"A question can be at most {QUESTION_MAX} characters."
        elif len(payload) > PAYLOAD_MAX:
            errors[key] = f"A payload can be at most {PAYLOAD_MAX} characters."
        draft.ice_breakers.append({"question": question, "payload": payload})
    if len(draft.ice_breakers) > ICE_BREAKERS_MAX:
        errors["ice_breakers"] = f"Meta allows at most {ICE_BREAKERS_MAX} ice breakers."
    for n in field_numbers(data, "menu_"):
        kind, title, value = _text(data, f"menu_{n}_type") or POSTBACK, _text(data, f"menu_{n}_title"), _text(
            data, f"menu_{n}_value"
        )
        if not title and not value:
            continue
        key = f"menu_{n}"
        if kind not in (POSTBACK, WEB_URL):
            errors[key] = "A menu item is a postback or a link."
        elif not title or not value:
            errors[key] = "A menu item needs a title and a payload or link."
        elif len(title) > TITLE_MAX:
            errors[key] = f"A menu title can be at most {TITLE_MAX} characters."
        elif kind == POSTBACK and len(value) > PAYLOAD_MAX:
            errors[key] = f"A payload can be at most {PAYLOAD_MAX} characters."
        elif kind == WEB_URL and not _web_url(value):
            errors[key] = "A link must be a full https:// or http:// address."
        item = {"type": kind, "title": title, ("url" if kind == WEB_URL else "payload"): value}
        draft.menu.append(item)
    if len(draft.menu) > MENU_MAX:
        errors["menu"] = f"The menu can have at most {MENU_MAX} items."
    return draft


def _web_url(value: str) -> bool:
    if len(value) > URL_MAX or any(c.isspace() for c in value):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and "." in (parts.hostname or "")


def profile_properties(draft: ProfileDraft) -> tuple[dict[str, Any], list[str]]:
    """(the properties to POST in Meta's shapes, the fields to DELETE because they are left empty)."""
    properties: dict[str, Any] = {}
    empty: list[str] = []
    if draft.greeting:
        properties["greeting"] = [{"locale": "default", "text": draft.greeting}]
    else:
        empty.append("greeting")
    if draft.ice_breakers:
        properties["ice_breakers"] = [{"call_to_actions": list(draft.ice_breakers), "locale": "default"}]
    else:
        empty.append("ice_breakers")
    if draft.menu:
        properties["get_started"] = {"payload": GET_STARTED_PAYLOAD}
        properties["persistent_menu"] = [
            {"locale": "default", "composer_input_disabled": False, "call_to_actions": list(draft.menu)}
        ]
    else:
        empty.append("persistent_menu")
    return properties, empty


def messenger_profile_get(*, account: SocialAccount) -> MessengerProfile:
    """The stored profile of a Facebook Page (unsaved and empty if never pushed)."""
    profile = MessengerProfile.objects.filter(account=account).first()
    return profile or MessengerProfile(business_id=account.business_id, account=account)


def push_error_text(exc: GraphAPIError) -> str:
    if isinstance(exc, TokenInvalidError):
        return f"The page's access was revoked; reconnect it, then save again. ({exc.message})"
    if isinstance(exc, RateLimitError):
        return f"Meta is limiting calls for this page; save again in {exc.retry_after} seconds."
    if isinstance(exc, TransientGraphError):
        return f"Meta is not answering right now; save again in a moment. ({exc.message})"
    code = f" (error {exc.code})" if exc.code is not None else ""
    return f"Meta refused the profile: {exc.message}{code}"[:ERROR_LENGTH]


def messenger_profile_push(*, account: SocialAccount, draft: ProfileDraft, actor: User) -> MessengerProfile:
    """Store the checked profile and send it to Meta; raises ProfilePushError (also stored) if Meta refuses."""
    if not draft.is_valid:
        raise ValueError("Check the profile before pushing it.")
    if account.platform != Platform.FACEBOOK:
        raise ProfilePushError("The Messenger profile belongs to a Facebook Page.")
    profile = messenger_profile_get(account=account)
    profile.greeting, profile.ice_breakers, profile.menu = draft.greeting, draft.ice_breakers, draft.menu
    properties, empty = profile_properties(draft)
    now = timezone.now()
    client = account_graph_client(account, actor=actor)
    try:
        if properties:
            client.messenger_profile_set(properties=properties)
        if empty:
            client.messenger_profile_delete(fields=empty)
    except GraphAPIError as exc:
        profile.error, profile.error_at = push_error_text(exc), now
        with transaction.atomic():
            profile.save()
            audit_record(
                action="messenger_profile.push_failed", business=account.business, actor=actor, target=account,
                metadata={"error": exc.message[:500], "error_code": exc.code},
            )
        raise ProfilePushError(profile.error) from exc
    profile.pushed_at, profile.pushed_by, profile.error, profile.error_at = now, actor, "", None
    with transaction.atomic():
        profile.save()
        audit_record(
            action="messenger_profile.pushed", business=account.business, actor=actor, target=account,
            metadata={"greeting": bool(draft.greeting), "ice_breakers": len(draft.ice_breakers),
                      "menu_items": len(draft.menu)},
        )
    messenger_profile_read(account=account, profile=profile, actor=actor, quiet=True)
    return profile


def messenger_profile_read(
    *, account: SocialAccount, actor: User | None = None, profile: MessengerProfile | None = None, quiet: bool = False
) -> MessengerProfile:
    """Read back what Meta keeps (``GET messenger_profile``) onto the row; ``quiet``: a failure is only logged."""
    profile = profile or messenger_profile_get(account=account)
    try:
        answer = account_graph_client(account, actor=actor).messenger_profile_get(fields=FIELDS)
    except GraphAPIError as exc:
        if quiet:
            logger.warning("Reading back the Messenger profile of account %s failed: %s", account.pk, exc)
            return profile
        raise ProfilePushError(f"Reading the profile from Meta failed: {push_error_text(exc)}") from exc
    data = answer.get("data") or []
    profile.meta_profile = data[0] if data and isinstance(data[0], dict) else {}
    profile.read_at = timezone.now()
    profile.save()
    return profile
