"""A fake Graph API answering like Meta does (docs/messenger-platform.md §6–§9): same paths, fields, response
and error shapes. `handle()` takes a parsed request and returns (HTTP status, JSON body).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import constant_time_compare, get_random_string

from sandbox import payloads
from sandbox.customers import customer_name
from sandbox.models import (
    AuthCode,
    Config,
    Customer,
    FacebookUser,
    Fault,
    GraphCall,
    Page,
    SentMessage,
    Subscription,
    Token,
    new_token,
)

logger = logging.getLogger(__name__)

SHORT_LIVED = timedelta(hours=1)
LONG_LIVED_SECONDS = 5183944  # ≈ 60 days, as Meta answers (§7.2)
CODE_TTL = timedelta(minutes=10)
WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)
WEBHOOK_FIELDS = {
    "messages", "message_echoes", "message_reads", "message_deliveries", "messaging_postbacks", "message_reactions",
    "message_edits", "messaging_referrals", "messaging_handovers", "standby", "messaging_optins", "messaging_seen",
    "messaging_policy_enforcement",
    "feed", "inbox_labels",
}
SENDER_ACTIONS = {"typing_on", "typing_off", "mark_seen", "react", "unreact"}
MESSAGING_TYPES = {"RESPONSE", "UPDATE", "MESSAGE_TAG"}


class MetaError(Exception):
    """An error answered in Meta's shape: {"error": {message, type, code, error_subcode, fbtrace_id}}."""

    def __init__(self, message: str, *, code: int, subcode: int | None = None, http_status: int = 400,
                 error_type: str = "OAuthException") -> None:
        super().__init__(message)
        self.message, self.code, self.subcode = message, code, subcode
        self.http_status, self.error_type = http_status, error_type

    def body(self) -> dict:
        error: dict[str, Any] = {"message": self.message, "type": self.error_type, "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        error["fbtrace_id"] = "A" + get_random_string(10)
        return {"error": error}


def _unsupported(object_id: str, method: str = "get") -> MetaError:
    return MetaError(
        f"Unsupported {method} request. Object with ID '{object_id}' does not exist, cannot be loaded due to missing "
        "permissions, or does not support this operation.",
        code=100, subcode=33, error_type="GraphMethodException",
    )


@dataclass
class GraphRequest:
    method: str
    path: str  # without version, no leading slash: "me/accounts"
    params: dict[str, str]  # query string and form fields
    body: dict[str, Any]  # JSON body (or form fields with JSON values decoded)
    token: str  # from the Authorization header or access_token
    base_url: str  # scheme://host of this server, for CDN URLs
    files: dict[str, Any] = field(default_factory=dict)  # multipart uploads (the Attachment Upload API)


@dataclass
class Auth:
    kind: str  # APP, USER or PAGE
    token: Token | None = None


def app_token() -> str:
    return f"{settings.FACEBOOK_APP_ID}|{settings.FACEBOOK_APP_SECRET}"


# ENTRY POINT
# ------------------------------------------------------------------------------
def handle(request: GraphRequest) -> tuple[int, dict]:
    status, body, auth_seen = 200, {}, bool(request.token)
    try:
        fault = _take_fault(request)
        if fault is not None and not fault.then_succeed:
            raise MetaError(fault.message or "An unexpected error has occurred. Please retry your request later.",
                            code=fault.code if fault.code is not None else 2, subcode=fault.subcode,
                            http_status=fault.http_status)
        body = _route(request)
    except MetaError as exc:
        status, body = exc.http_status, exc.body()
    GraphCall.objects.create(
        method=request.method, path="/" + request.path, status=status,
        error_code=(body.get("error") or {}).get("code") if status >= 400 else None,
        had_token=auth_seen, had_proof=bool(request.params.get("appsecret_proof")),
    )
    return status, body


def _take_fault(request: GraphRequest) -> Fault | None:
    path = "/" + request.path
    for fault in Fault.objects.filter(path=path, remaining__gt=0).order_by("id"):
        if fault.method and fault.method.upper() != request.method:
            continue
        # Conditional decrement: two concurrent calls never both consume the last one.
        if Fault.objects.filter(pk=fault.pk, remaining__gt=0).update(remaining=F("remaining") - 1):
            if fault.delay:
                time.sleep(fault.delay)
            return fault
    return None


def _route(request: GraphRequest) -> dict:
    parts = [p for p in request.path.split("/") if p]
    if parts == ["oauth", "access_token"]:
        return oauth_access_token(request)
    if parts == ["debug_token"]:
        return debug_token(request)
    if not parts:
        raise MetaError("Unsupported get request.", code=100)
    auth = authenticate(request)
    if parts[0] == "me":
        if auth.kind == "PAGE":
            parts[0] = auth.token.page.page_id
        elif auth.kind == "USER":
            if parts == ["me"]:
                return me(request, auth)
            if parts == ["me", "accounts"]:
                return me_accounts(request, auth)
        else:
            raise MetaError("An active access token must be used to query information about the current user.",
                            code=2500)
    from sandbox import graph_comments  # builds on this module

    if len(parts) <= 2:  # a comment: /{comment-id}, its /comments or /replies (graph_comments.py)
        answer = graph_comments.handle(request, auth, parts)
        if answer is not None:
            return answer
    if len(parts) == 1:
        return node(request, auth, parts[0])
    if len(parts) == 2 and parts[1] == "subscribed_apps":
        return subscribed_apps(request, auth, parts[0])
    from sandbox import graph_handover, graph_profile  # they build on this module

    if len(parts) == 2 and parts[1] in graph_handover.PATHS:
        return graph_handover.handle(request, auth, parts[0], parts[1])
    if len(parts) == 2 and parts[1] == "messenger_profile":
        return graph_profile.handle(request, auth, parts[0])
    if len(parts) == 2 and parts[1] == "message_attachments":
        from sandbox import graph_attachments  # imports this module

        return graph_attachments.upload(request, auth, parts[0])
    if len(parts) == 2 and parts[1] == "messages" and request.method == "POST":
        if isinstance(request.body.get("recipient"), dict) and "comment_id" in request.body["recipient"]:
            return graph_comments.private_reply(request, auth, parts[0])  # a private reply to a comment
        from sandbox import graph_attachments  # imports this module

        graph_handover.send_allowed(request, parts[0])
        graph_attachments.check_send(request.body, parts[0])
        return send(request, auth, parts[0])
    if len(parts) == 2 and parts[1] in ("conversations", "messages") and request.method == "GET":
        from sandbox import graph_conversations  # imports this module

        if parts[1] == "conversations":
            return graph_conversations.page_conversations(request, auth, parts[0])
        return graph_conversations.conversation_messages(request, auth, parts[0])
    raise MetaError(f"Unknown path components: /{'/'.join(parts[1:])}", code=2500)


# AUTHENTICATION
# ------------------------------------------------------------------------------
def authenticate(request: GraphRequest) -> Auth:
    if not request.token:
        raise MetaError("An access token is required to request this resource.", code=104)
    _check_proof(request)
    if request.token == app_token():
        return Auth(kind="APP")
    token = Token.objects.select_related("user", "page", "parent").filter(token=request.token).first()
    if token is None:
        raise MetaError("Invalid OAuth access token - Cannot parse access token", code=190)
    problem = token_problem(token)
    if problem is not None:
        raise MetaError(problem[0], code=190, subcode=problem[1])
    return Auth(kind=token.kind, token=token)


def _check_proof(request: GraphRequest) -> None:
    if not Config.get().require_appsecret_proof:
        return
    proof = request.params.get("appsecret_proof", "")
    if not proof:
        raise MetaError("API calls from the server require an appsecret_proof argument", code=100,
                        error_type="GraphMethodException")
    expected = hmac.new(settings.FACEBOOK_APP_SECRET.encode(), request.token.encode(), hashlib.sha256).hexdigest()
    if not constant_time_compare(proof, expected):
        raise MetaError("Invalid appsecret_proof provided in the API argument", code=100,
                        error_type="GraphMethodException")


def token_problem(token: Token) -> tuple[str, int | None] | None:
    """Why Meta would refuse this token (message, subcode), or None if it's valid."""
    for candidate in (token, token.parent):
        if candidate is not None and candidate.invalid_subcode:
            if candidate.invalid_subcode == 460:
                return ("Error validating access token: The session has been invalidated because the user changed "
                        "their password or Facebook has changed the session for security reasons.", 460)
            return ("Error validating access token: The user has not authorized application "
                    f"{settings.FACEBOOK_APP_ID}.", candidate.invalid_subcode)
    if token.expires_at is not None and token.expires_at <= timezone.now():
        return (f"Error validating access token: Session has expired on {token.expires_at:%A, %d-%b-%y %H:%M:%S} "
                "PDT. The current time is now.", 463)
    return None


def _require_scope(auth: Auth, scope: str, code: int = 200) -> None:
    if auth.token is None or scope not in auth.token.scopes:
        raise MetaError(f"(#{code}) Requires {scope} permission to manage the object", code=code)


# OAUTH AND TOKENS
# ------------------------------------------------------------------------------
def oauth_access_token(request: GraphRequest) -> dict:
    p = request.params
    if p.get("client_id") != str(settings.FACEBOOK_APP_ID):
        raise MetaError("Error validating application. Invalid application ID.", code=101)
    if not constant_time_compare(p.get("client_secret", ""), settings.FACEBOOK_APP_SECRET):
        raise MetaError("Error validating client secret.", code=1)
    grant_type = p.get("grant_type", "")
    if grant_type == "client_credentials":
        return {"access_token": app_token(), "token_type": "bearer"}
    if grant_type == "fb_exchange_token":
        old = Token.objects.select_related("user", "parent").filter(token=p.get("fb_exchange_token", "")).first()
        if old is None or old.kind != Token.Kind.USER:
            raise MetaError("Invalid OAuth access token - Cannot parse access token", code=190)
        problem = token_problem(old)
        if problem is not None:
            raise MetaError(problem[0], code=190, subcode=problem[1])
        new = Token.objects.create(
            token=new_token(), kind=Token.Kind.USER, user=old.user, scopes=old.scopes, page_ids=old.page_ids,
            long_lived=True, expires_at=timezone.now() + timedelta(seconds=LONG_LIVED_SECONDS),
        )
        return {"access_token": new.token, "token_type": "bearer", "expires_in": LONG_LIVED_SECONDS}
    code = p.get("code", "")
    if not code:
        raise MetaError("Missing authorization code", code=100)
    with transaction.atomic():
        auth_code = AuthCode.objects.select_for_update().select_related("user").filter(code=code).first()
        if auth_code is None:
            raise MetaError("Invalid verification code format.", code=100)
        if auth_code.used_at is not None:
            raise MetaError("This authorization code has been used.", code=100, subcode=36009)
        if timezone.now() - auth_code.created_at > CODE_TTL:
            raise MetaError("This authorization code has expired.", code=100, subcode=36007)
        if p.get("redirect_uri", "") != auth_code.redirect_uri:
            raise MetaError(
                "Error validating verification code. Please make sure your redirect_uri is identical to the one you "
                "used in the OAuth dialog request", code=100, subcode=36008,
            )
        auth_code.used_at = timezone.now()
        auth_code.save(update_fields=["used_at"])
        token = Token.objects.create(
            token=new_token(), kind=Token.Kind.USER, user=auth_code.user, scopes=auth_code.scopes,
            page_ids=auth_code.page_ids, expires_at=timezone.now() + SHORT_LIVED,
        )
    return {"access_token": token.token, "token_type": "bearer", "expires_in": int(SHORT_LIVED.total_seconds())}


def debug_token(request: GraphRequest) -> dict:
    auth = authenticate(request)
    if auth.kind != "APP":
        raise MetaError("(#100) You must provide an app access token, or a user access token that is an owner or "
                        "developer of the app", code=100)
    raw = request.params.get("input_token", "")
    if raw == app_token():
        return {"data": {"app_id": str(settings.FACEBOOK_APP_ID), "type": "APP", "application": "Social Inbox",
                         "is_valid": True}}
    token = Token.objects.select_related("user", "page", "parent").filter(token=raw).first() if raw else None
    if token is None:
        return {"data": {"error": {"code": 190, "message": "Invalid OAuth access token."}, "is_valid": False,
                         "scopes": []}}
    ig_ids = list(Page.objects.filter(page_id__in=token.page_ids).exclude(ig_id="").values_list("ig_id", flat=True))
    granular = []
    for scope in token.scopes:
        if scope.startswith("pages_") and scope != "pages_show_list":
            granular.append({"scope": scope, "target_ids": list(token.page_ids)})
        elif scope.startswith("instagram_"):
            granular.append({"scope": scope, "target_ids": ig_ids})
        else:
            granular.append({"scope": scope})
    data: dict[str, Any] = {
        "app_id": str(settings.FACEBOOK_APP_ID),
        "type": token.kind,
        "application": "Social Inbox",
        "data_access_expires_at": int((token.issued_at + timedelta(days=90)).timestamp()),
        "expires_at": int(token.expires_at.timestamp()) if token.expires_at else 0,
        "is_valid": True,
        "issued_at": int(token.issued_at.timestamp()),
        "scopes": list(token.scopes),
        "granular_scopes": granular,
        "user_id": token.user.fb_id,
    }
    if token.kind == Token.Kind.PAGE:
        data["profile_id"] = token.page.page_id
    problem = token_problem(token)
    if problem is not None:
        data["is_valid"] = False
        data["error"] = {"code": 190, "message": problem[0], "subcode": problem[1]}
    return {"data": data}


# READS
# ------------------------------------------------------------------------------
def parse_fields(raw: str | None) -> dict[str, str | None]:
    """"id,name,picture{url}" → {"id": None, "name": None, "picture": "url"}."""
    fields: dict[str, str | None] = {}
    depth, current = 0, ""
    for char in (raw or "") + ",":
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        if char == "," and depth == 0:
            current = current.strip()
            if current:
                name, _, nested = current.partition("{")
                fields[name.strip()] = nested[:-1] if nested else None
            current = ""
        else:
            current += char
    return fields


def _select(full: dict, raw_fields: str | None, default: str) -> dict:
    wanted = parse_fields(raw_fields or default)
    out = {name: full[name] for name in wanted if name in full}
    out.setdefault("id", full["id"])
    return out


def cdn_url(base_url: str, name: str) -> str:
    return f"{base_url}/sandbox/cdn/{name}"


def me(request: GraphRequest, auth: Auth) -> dict:
    user = auth.token.user
    full = {"id": user.fb_id, "name": user.name, "first_name": user.first_name, "last_name": user.last_name,
            "picture": {"data": {"url": cdn_url(request.base_url, f"user-{user.fb_id}.png"), "is_silhouette": False}}}
    if "email" in auth.token.scopes and user.email:
        full["email"] = user.email
    return _select(full, request.params.get("fields"), "id,name")


def _page_token_for(user_token: Token, page: Page) -> Token:
    """The Page token /me/accounts hands out for this user token (no expiry if the user token is long-lived)."""
    existing = Token.objects.filter(parent=user_token, page=page, kind=Token.Kind.PAGE).first()
    if existing is not None:
        return existing
    return Token.objects.create(
        token=new_token(), kind=Token.Kind.PAGE, user=user_token.user, page=page, parent=user_token,
        scopes=user_token.scopes, page_ids=user_token.page_ids, long_lived=user_token.long_lived,
        expires_at=None if user_token.long_lived else user_token.expires_at,
    )


def _page_full(request: GraphRequest, page: Page, *, user_token: Token | None, tasks: list | None) -> dict:
    full: dict[str, Any] = {
        "id": page.page_id,
        "name": page.name,
        "username": page.username,
        "category": page.category,
        "category_list": page.category_list,
        "fan_count": page.fan_count,
        "followers_count": page.followers_count,
        "link": f"https://www.facebook.com/{page.username or page.page_id}",
        "picture": {"data": {"height": 50, "width": 50, "is_silhouette": False,
                             "url": cdn_url(request.base_url, f"page-{page.page_id}.png")}},
    }
    if page.ig_id:
        full["instagram_business_account"] = {"id": page.ig_id, "username": page.ig_username}
    if tasks is not None:
        full["tasks"] = tasks
    if user_token is not None:
        full["access_token"] = _page_token_for(user_token, page).token
    return full


def me_accounts(request: GraphRequest, auth: Auth) -> dict:
    token = auth.token
    if "pages_show_list" not in token.scopes:
        return {"data": []}
    roles = list(
        token.user.roles.select_related("page").filter(page__page_id__in=token.page_ids).order_by("page__name", "id")
    )
    limit = max(1, min(int(request.params.get("limit") or 25), 100))
    offset = _cursor_offset(request.params.get("after"))
    window = roles[offset:offset + limit]
    data = [
        _select(_page_full(request, role.page, user_token=token, tasks=role.tasks), request.params.get("fields"),
                "id,name,access_token,category,category_list,tasks")
        for role in window
    ]
    result: dict[str, Any] = {"data": data}
    if data:
        paging: dict[str, Any] = {"cursors": {"before": _cursor(offset), "after": _cursor(offset + len(window) - 1)}}
        if offset + limit < len(roles):
            # Meta's `next` repeats the token; ours never does (the client reissues the call with `after`).
            paging["next"] = f"{request.base_url}/sandbox/graph/v25.0/me/accounts?limit={limit}&after={_cursor(offset + limit - 1)}"
        result["paging"] = paging
    return result


def _cursor(index: int) -> str:
    return base64.urlsafe_b64encode(f"cursor:{index}".encode()).decode()


def _cursor_offset(after: str | None) -> int:
    if not after:
        return 0
    try:
        return int(base64.urlsafe_b64decode(after.encode()).decode().split(":")[1]) + 1
    except (ValueError, IndexError, UnicodeDecodeError) as exc:
        raise MetaError("Invalid cursor", code=100) from exc


def node(request: GraphRequest, auth: Auth, object_id: str) -> dict:
    if request.method != "GET":
        raise _unsupported(object_id, request.method.lower())
    page = Page.objects.filter(page_id=object_id).first()
    if page is not None:
        return _page_node(request, auth, page)
    page = Page.objects.filter(ig_id=object_id).first()
    if page is not None:
        if auth.kind != "PAGE" or auth.token.page_id != page.pk:
            raise _unsupported(object_id)
        full = {"id": page.ig_id, "username": page.ig_username, "name": page.ig_name,
                "followers_count": page.ig_followers_count,
                "profile_picture_url": cdn_url(request.base_url, f"ig-{page.ig_id}.png")}
        return _select(full, request.params.get("fields"), "id,username")
    customer = Customer.objects.select_related("page").filter(psid=object_id).first()
    if customer is not None:
        if auth.kind != "PAGE" or auth.token.page_id != customer.page_id:
            raise _unsupported(object_id)
        picture = cdn_url(request.base_url, f"avatar-{customer.psid}.png")
        if customer.platform == Customer.Platform.INSTAGRAM:
            full = {"id": customer.psid, "name": customer.name, "username": customer.username, "profile_pic": picture}
            return _select(full, request.params.get("fields"), "id,name,username")
        full = {"id": customer.psid, "name": customer.name, "first_name": customer.first_name,
                "last_name": customer.last_name, "profile_pic": picture}
        return _select(full, request.params.get("fields"), "id,first_name,last_name")
    raise _unsupported(object_id)


def _page_node(request: GraphRequest, auth: Auth, page: Page) -> dict:
    if auth.kind == "PAGE":
        if auth.token.page_id != page.pk:
            raise _unsupported(page.page_id)
        full = _page_full(request, page, user_token=None, tasks=None)
        full["access_token"] = auth.token.token
    elif auth.kind == "USER":
        role = auth.token.user.roles.filter(page=page).first()
        if role is None or page.page_id not in auth.token.page_ids:
            raise _unsupported(page.page_id)
        full = _page_full(request, page, user_token=auth.token, tasks=role.tasks)
    else:
        full = _page_full(request, page, user_token=None, tasks=None)
    return _select(full, request.params.get("fields"), "id,name")


# PAGE SUBSCRIPTION
# ------------------------------------------------------------------------------
def _page_for_page_token(auth: Auth, object_id: str) -> Page:
    page = Page.objects.filter(page_id=object_id).first()
    if page is None:
        raise _unsupported(object_id)
    if auth.kind != "PAGE" or auth.token.page_id != page.pk:
        raise MetaError("(#210) A page access token is required to request this resource.", code=210)
    return page


def subscribed_apps(request: GraphRequest, auth: Auth, object_id: str) -> dict:
    page = _page_for_page_token(auth, object_id)
    if request.method == "GET":
        subscription = Subscription.objects.filter(page=page).first()
        if subscription is None:
            return {"data": []}
        return {"data": [{"category": "Business", "link": "https://sandbox.invalid/social-inbox",
                          "name": "Social Inbox", "id": str(settings.FACEBOOK_APP_ID),
                          "subscribed_fields": subscription.fields}]}
    _require_scope(auth, "pages_manage_metadata")
    if request.method == "DELETE":
        Subscription.objects.filter(page=page).delete()
        return {"success": True}
    raw = request.params.get("subscribed_fields") or request.body.get("subscribed_fields") or ""
    fields = [f.strip() for f in (raw if isinstance(raw, list) else str(raw).split(",")) if f.strip()]
    if not fields:
        raise MetaError("(#100) The parameter subscribed_fields is required", code=100)
    unknown = [f for f in fields if f not in WEBHOOK_FIELDS]
    if unknown:
        raise MetaError(f"(#100) Param subscribed_fields[0] must be one of {{{', '.join(sorted(WEBHOOK_FIELDS))}}} - "
                        f"got \"{unknown[0]}\".", code=100)
    Subscription.objects.update_or_create(page=page, defaults={"fields": fields})
    return {"success": True}


# SEND API
# ------------------------------------------------------------------------------
def send(request: GraphRequest, auth: Auth, object_id: str) -> dict:
    page = _page_for_page_token(auth, object_id)
    body = request.body
    recipient_id = str((body.get("recipient") or {}).get("id") or "")
    if not recipient_id:
        raise MetaError("(#100) The parameter recipient is required", code=100)
    _require_scope(auth, "pages_messaging", code=230)
    customer = Customer.objects.filter(psid=recipient_id, page=page).first()
    if customer is None:
        raise MetaError("(#100) No matching user found", code=100, subcode=2018001)
    if customer.blocked:
        raise MetaError("(#551) This person isn't available right now.", code=551, subcode=1545041)
    action = body.get("sender_action")
    if action:
        if action not in SENDER_ACTIONS:
            raise MetaError(f"(#100) Param sender_action must be one of {sorted(SENDER_ACTIONS)}", code=100)
        SentMessage.objects.create(page=page, recipient_id=recipient_id, body=body)
        return {"recipient_id": recipient_id}

    instagram = customer.platform == Customer.Platform.INSTAGRAM
    message = body.get("message") or {}
    messaging_type = body.get("messaging_type") or "RESPONSE"
    if messaging_type not in MESSAGING_TYPES:
        raise MetaError("(#100) param messaging_type must be one of {RESPONSE, UPDATE, MESSAGE_TAG}", code=100)
    text, attachment = message.get("text"), message.get("attachment")
    if not text and not attachment:
        raise MetaError("(#100) param message must be non-empty.", code=100)
    if text is not None:
        limit, size = (1000, len(str(text).encode())) if instagram else (2000, len(str(text)))
        if size > limit:
            raise MetaError(f"(#100) Length of param message[text] must be less than or equal to {limit}", code=100)
    if attachment and not ((attachment.get("payload") or {}).get("url") or (attachment.get("payload") or {}).get(
            "attachment_id")):
        raise MetaError("(#100) Incorrect attachment payload", code=100)
    _check_window(customer, messaging_type=messaging_type, tag=body.get("tag"), instagram=instagram)

    mid = payloads.new_mid()
    SentMessage.objects.create(page=page, recipient_id=recipient_id, message_id=mid, body=body)
    config = Config.get()
    if config.send_receipts:
        account_id = page.ig_id if instagram else page.page_id
        _receipts_start(
            url=config.webhook_url or settings.SANDBOX_WEBHOOK_URL, object_type="instagram" if instagram else "page",
            account_id=account_id, psid=recipient_id, mid=mid, message=message,
            delays=(config.echo_delay, config.read_delay), instagram=instagram,
        )
    return {"recipient_id": recipient_id, "message_id": mid}


def _check_window(customer: Customer, *, messaging_type: str, tag: str | None, instagram: bool) -> None:
    since = timezone.now() - customer.last_message_at if customer.last_message_at else None
    if messaging_type == "MESSAGE_TAG":
        if not tag:
            raise MetaError("(#100) Param tag is required for messaging_type MESSAGE_TAG", code=100)
        if tag == "HUMAN_AGENT":
            if not Config.get().human_agent_approved:
                raise MetaError("(#100) Cannot tag messages with 'HUMAN_AGENT' without prior approval.", code=100,
                                subcode=2018276)
            if since is not None and since <= HUMAN_AGENT_WINDOW:
                return
    elif since is not None and since <= WINDOW:
        return
    raise MetaError("(#10) This message is sent outside of allowed window.", code=10,
                    subcode=2534022 if instagram else 2018278)


def _receipts_start(*, url: str, object_type: str, account_id: str, psid: str, mid: str, message: dict,
                    delays: tuple[float, float], instagram: bool) -> None:
    """Echo, then delivery, then read, as Meta sends them after a send (§4.6–4.8), from a background thread."""
    echo = payloads.echo(page_id=account_id, psid=psid, text=str(message.get("text") or ""), mid=mid,
                         app_id=settings.FACEBOOK_APP_ID, metadata=message.get("metadata"))
    if message.get("attachment"):
        attachment = message["attachment"]
        echo["message"].pop("text", None)
        echo["message"]["attachments"] = [{"type": attachment.get("type"), "payload": {
            "url": (attachment.get("payload") or {}).get("url", "")}}]
    secret = settings.FACEBOOK_APP_SECRET

    def post(events: list[dict]) -> None:
        body = payloads.encode(payloads.envelope(
            object_type=object_type, entries=[payloads.entry(account_id=account_id, events=events)]
        ))
        try:
            payloads.post_webhook(url, body, secret, timeout=10)
        except Exception as exc:  # the app may be down; Meta would retry, the sandbox just logs
            logger.warning("Sandbox webhook to %s failed: %s", url, exc)

    def run() -> None:
        echo_delay, read_delay = delays
        time.sleep(max(0.0, echo_delay))
        post([echo])
        if not instagram:  # Instagram sends no delivery receipts
            post([payloads.delivery(page_id=account_id, psid=psid, mids=[mid], watermark_ms=payloads.now_ms())])
        time.sleep(max(0.0, read_delay - echo_delay))
        if instagram:
            post([payloads.read(page_id=account_id, psid=psid, mid=mid)])
        else:
            post([payloads.read(page_id=account_id, psid=psid, watermark_ms=payloads.now_ms())])

    threading.Thread(target=run, name=f"sandbox-receipts-{mid[:12]}", daemon=True).start()


# HELPERS FOR THE SIMULATOR AND TESTS
# ------------------------------------------------------------------------------
class PsidOfAnotherPage(ValueError):
    """The PSID is already a customer of another Page: Meta's ids are page-scoped, so it can't also
    write to this one (that Page's profile lookups and sends would be refused)."""


def customer_message_received(*, psid: str, at: Any = None, page_id: str | None = None, name: str = "") -> None:
    """Note that the customer just wrote (opens the 24-hour window for replies).

    With `page_id` (a Page id or its Instagram account id) an unknown customer is created, so the
    Send API and profile lookups know them as Meta would, with a name of their own derived from the
    PSID; a PSID already known on another Page raises `PsidOfAnotherPage`.
    """
    when = at or timezone.now()
    page, platform = page_and_platform(page_id) if page_id else (None, Customer.Platform.FACEBOOK)
    existing = Customer.objects.filter(psid=psid).values_list("page_id", flat=True).first()
    if existing is not None:
        if page is not None and existing != page.pk:
            raise PsidOfAnotherPage(f"PSID {psid} is a customer of another Page in the sandbox.")
        Customer.objects.filter(psid=psid).update(last_message_at=when)
        return
    if page is None:
        return
    if name:
        first, _, last = name.partition(" ")
    else:
        taken = {c.name for c in Customer.objects.filter(page=page).only("first_name", "last_name", "username")}
        first, last = customer_name(psid, taken=taken)
    username = f"{first}.{last.split(' ')[0]}".lower() if platform == Customer.Platform.INSTAGRAM else ""
    Customer.objects.get_or_create(psid=psid, defaults={
        "page": page, "platform": platform, "first_name": first, "last_name": last, "last_message_at": when,
        "username": username,
    })


def page_and_platform(account_id: str) -> tuple[Page | None, str]:
    """The sandbox Page of a Page id or of its Instagram account id, and which platform that id is."""
    page = Page.objects.filter(page_id=account_id).first()
    if page is not None:
        return page, Customer.Platform.FACEBOOK
    return Page.objects.filter(ig_id=account_id).first(), Customer.Platform.INSTAGRAM


def dialog_code_create(*, user: FacebookUser, redirect_uri: str, scopes: list[str], page_ids: list[str]) -> AuthCode:
    return AuthCode.objects.create(code=get_random_string(64), user=user, redirect_uri=redirect_uri, scopes=scopes,
                                   page_ids=page_ids)
