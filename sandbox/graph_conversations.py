"""The Conversations API, as Meta answers it (docs/messenger-platform.md "History import").

``GET /{page-id}/conversations?platform=messenger|instagram&fields=participants,updated_time,
messages.limit(N){id,created_time,from,to,message,attachments,sticker}&limit=&after=``: the Page's
threads, most recently updated first, cursor-paged; and ``GET /{conversation-id}/messages?fields=
&limit=&after=``: one thread's messages, newest first. A Page token of the Page is required, with
``pages_messaging`` (Messenger) or ``instagram_manage_messages`` (Instagram); faults, a bad token
(190) and the rest come from the common path (sandbox/graph.py).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sandbox.graph import (
    MetaError,
    _cursor,
    _cursor_offset,
    _page_for_page_token,
    _require_scope,
    _unsupported,
    parse_fields,
)
from sandbox.history import Message, page_threads, thread_customer, thread_id, thread_messages
from sandbox.models import Customer, Page

if TYPE_CHECKING:
    from sandbox.graph import Auth, GraphRequest

PLATFORMS = {"messenger": Customer.Platform.FACEBOOK, "instagram": Customer.Platform.INSTAGRAM}
DEFAULT_LIMIT = 25
MAX_LIMIT = 100
MESSAGE_FIELDS = ("id", "created_time", "from", "to", "message", "attachments", "sticker")
_LIMIT = re.compile(r"^(?P<name>\w+)(?:\.limit\((?P<limit>\d+)\))?$")


def page_conversations(request: GraphRequest, auth: Auth, object_id: str) -> dict:
    page = _page_for_page_token(auth, object_id)
    raw_platform = request.params.get("platform") or "messenger"
    if raw_platform not in PLATFORMS:
        raise MetaError("(#100) platform must be one of the following values: instagram, messenger", code=100)
    platform = PLATFORMS[raw_platform]
    if platform == Customer.Platform.INSTAGRAM:
        if not page.ig_id:
            raise MetaError("(#100) The Page has no linked Instagram professional account", code=100)
        _require_scope(auth, "instagram_manage_messages")
    else:
        _require_scope(auth, "pages_messaging")
    fields = _fields(request.params.get("fields"))
    threads = page_threads(page, platform)
    offset, limit = _cursor_offset(request.params.get("after")), _limit(request.params.get("limit"))
    window = threads[offset:offset + limit]
    data = [_conversation(request, page, customer, updated, fields) for customer, updated in window]
    query = "&".join(f"{k}={v}" for k, v in (("platform", raw_platform), ("limit", limit)))
    return _paged(data, offset=offset, limit=limit, total=len(threads),
                  url=f"{request.base_url}/sandbox/graph/v25.0/{page.page_id}/conversations?{query}")


def conversation_messages(request: GraphRequest, auth: Auth, object_id: str) -> dict:
    customer = thread_customer(object_id)
    if customer is None or auth.kind != "PAGE" or auth.token.page_id != customer.page_id:
        raise _unsupported(object_id)
    scope = "instagram_manage_messages" if customer.platform == Customer.Platform.INSTAGRAM else "pages_messaging"
    _require_scope(auth, scope)
    wanted = set(parse_fields(request.params.get("fields") or "id,created_time"))
    messages = thread_messages(customer)
    offset, limit = _cursor_offset(request.params.get("after")), _limit(request.params.get("limit"))
    data = [_message(customer.page, customer, m, wanted) for m in messages[offset:offset + limit]]
    return _paged(data, offset=offset, limit=limit, total=len(messages),
                  url=f"{request.base_url}/sandbox/graph/v25.0/{object_id}/messages?limit={limit}")


# SHAPES
# ------------------------------------------------------------------------------
def _fields(raw: str | None) -> dict[str, tuple[int | None, set[str]]]:
    """"participants,messages.limit(20){id,from}" → {"participants": (None, set()), "messages": (20, {"id", "from"})}."""
    fields: dict[str, tuple[int | None, set[str]]] = {}
    for name, nested in parse_fields(raw or "id,updated_time").items():
        match = _LIMIT.match(name.strip())
        if match is None:
            raise MetaError(f"(#100) Syntax error \"Expected end of string instead of \"{name}\".\"", code=100)
        limit = int(match["limit"]) if match["limit"] else None
        fields[match["name"]] = (limit, set(parse_fields(nested)) if nested else {"id", "created_time"})
    return fields


def _conversation(request: GraphRequest, page: Page, customer: Customer, updated: datetime,
                  fields: dict[str, tuple[int | None, set[str]]]) -> dict:
    out: dict[str, Any] = {"id": thread_id(customer)}
    if "updated_time" in fields:
        out["updated_time"] = _time(updated)
    if "participants" in fields:
        out["participants"] = {"data": [_person(page, customer, from_page=False), _person(page, customer, from_page=True)]}
    if "messages" in fields:
        limit, wanted = fields["messages"]
        limit = _limit(str(limit) if limit else None)
        messages = thread_messages(customer)
        data = [_message(page, customer, m, wanted) for m in messages[:limit]]
        out["messages"] = _paged(
            data, offset=0, limit=limit, total=len(messages),
            url=f"{request.base_url}/sandbox/graph/v25.0/{thread_id(customer)}/messages?limit={limit}",
        )
    return out


def _message(page: Page, customer: Customer, message: Message, wanted: set[str]) -> dict:
    full: dict[str, Any] = {
        "id": message.mid,
        "created_time": _time(message.created_time),
        "from": _person(page, customer, from_page=message.from_page),
        "to": {"data": [_person(page, customer, from_page=not message.from_page)]},
    }
    full["message"] = message.text  # "" for an attachment only, as Meta answers
    if message.attachments:
        full["attachments"] = {"data": list(message.attachments)}
    out = {name: full[name] for name in MESSAGE_FIELDS if name in wanted and name in full}
    out["id"] = message.mid
    return out


def _person(page: Page, customer: Customer, *, from_page: bool) -> dict:
    if customer.platform == Customer.Platform.INSTAGRAM:
        return ({"username": page.ig_username, "id": page.ig_id} if from_page
                else {"username": customer.username, "id": customer.psid})
    if from_page:
        return {"name": page.name, "email": f"{page.page_id}@facebook.com", "id": page.page_id}
    return {"name": customer.name, "email": f"{customer.psid}@facebook.com", "id": customer.psid}


def _paged(data: list[dict], *, offset: int, limit: int, total: int, url: str) -> dict:
    result: dict[str, Any] = {"data": data}
    if data:
        paging: dict[str, Any] = {"cursors": {"before": _cursor(offset), "after": _cursor(offset + len(data) - 1)}}
        if offset + limit < total:
            # Meta's `next` repeats the token; the sandbox's never does (clients reissue the call with `after`).
            paging["next"] = f"{url}&after={_cursor(offset + len(data) - 1)}"
        result["paging"] = paging
    return result


def _limit(raw: str | None) -> int:
    try:
        return max(1, min(int(raw or DEFAULT_LIMIT), MAX_LIMIT))
    except ValueError as exc:
        raise MetaError("(#100) Param limit must be a number", code=100) from exc


def _time(value: datetime) -> str:
    """Meta's time format: UTC, "+0000"."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")
