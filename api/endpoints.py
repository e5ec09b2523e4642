"""The REST API's endpoints (mounted at /api/v1/): thin — read the request, call one selector or action,
answer with `api.documents`. Every object is looked up in the key's business, so anyone else's is a 404."""

from __future__ import annotations

from ninja import Header, Query, Router, Status

from api import actions, selectors
from api.auth import require_write
from api.documents import account_document, conversation_document, message_document
from api.idempotency import run_once
from api.schemas import (
    AccountList,
    AccountOut,
    AssignIn,
    ConversationOut,
    ConversationPage,
    ErrorOut,
    LabelIn,
    MessageOut,
    MessagePage,
    ReadOut,
    ReplyIn,
    StatusIn,
)

router = Router()
ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 413: ErrorOut, 422: ErrorOut,
          429: ErrorOut}


def _business(request):
    return request.auth.business


@router.get("/accounts", response={200: AccountList, **ERRORS}, tags=["accounts"], summary="Connected accounts")
def account_list(request):
    return {"data": [account_document(a) for a in selectors.account_list(business=_business(request))]}


@router.get("/accounts/{account_id}", response={200: AccountOut, **ERRORS}, tags=["accounts"])
def account_read(request, account_id: str):
    return account_document(selectors.account_get(business=_business(request), public_id=account_id))


@router.get("/conversations", response={200: ConversationPage, **ERRORS}, tags=["conversations"])
def conversation_list(
    request,
    status: str | None = None,
    assignee: str | None = Query(None, description="A member's email, or `none` for unassigned."),
    label: str | None = None,
    account: str | None = Query(None, description="An account's id: only that page's conversations."),
    updated_since: str | None = Query(None, description="ISO 8601 time with a zone."),
    unread: bool | None = None,
    cursor: str | None = None,
    limit: int = 50,
):
    filters = selectors.ConversationFilters(
        status=status, assignee=assignee, label=label, account=account, updated_since=updated_since, unread=unread
    )
    page = selectors.conversation_list(business=_business(request), filters=filters, cursor=cursor, limit=limit)
    return {"data": [conversation_document(c) for c in page.rows], "nextCursor": page.next_cursor}


@router.get("/conversations/{conversation_id}", response={200: ConversationOut, **ERRORS}, tags=["conversations"])
def conversation_read(request, conversation_id: str):
    return conversation_document(selectors.conversation_get(business=_business(request), public_id=conversation_id))


@router.get("/conversations/{conversation_id}/messages", response={200: MessagePage, **ERRORS}, tags=["messages"])
def message_list(request, conversation_id: str, cursor: str | None = None, limit: int = 50):
    conversation = selectors.conversation_get(business=_business(request), public_id=conversation_id)
    page = selectors.message_list(conversation=conversation, cursor=cursor, limit=limit)
    return {"data": [message_document(m) for m in page.rows], "nextCursor": page.next_cursor}


@router.post(
    "/conversations/{conversation_id}/messages", response={201: MessageOut, **ERRORS}, tags=["messages"],
    summary="Reply", description="Queue a text reply, sent as from the inbox (the same window rules). "
    "With an `Idempotency-Key` header, repeating the request returns the first answer and sends nothing.",
)
def message_reply(
    request, conversation_id: str, body: ReplyIn,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key"),
):
    key = require_write(request)
    conversation = selectors.conversation_get(business=key.business, public_id=conversation_id)

    def send() -> tuple[int, dict]:
        message = actions.reply(conversation=conversation, actor=key.actor, text=body.text)
        message.conversation = conversation
        return 201, message_document(message)

    status, answer = run_once(
        api_key=key, key=idempotency_key, method=request.method, path=request.path, body=body.dict(), run=send
    )
    return Status(status, answer)


def _changed(request, conversation_id: str):
    key = require_write(request)
    return key, selectors.conversation_get(business=key.business, public_id=conversation_id)


def _fresh(key, conversation_id: str) -> dict:
    return conversation_document(selectors.conversation_get(business=key.business, public_id=conversation_id))


@router.post("/conversations/{conversation_id}/assign", response={200: ConversationOut, **ERRORS},
             tags=["conversations"])
def conversation_assign(request, conversation_id: str, body: AssignIn):
    key, conversation = _changed(request, conversation_id)
    actions.assign(conversation=conversation, actor=key.actor, email=body.assignee)
    return _fresh(key, conversation_id)


@router.post("/conversations/{conversation_id}/status", response={200: ConversationOut, **ERRORS},
             tags=["conversations"], summary="Resolve, reopen or mark pending")
def conversation_status(request, conversation_id: str, body: StatusIn):
    key, conversation = _changed(request, conversation_id)
    actions.set_status(conversation=conversation, actor=key.actor, status=body.status)
    return _fresh(key, conversation_id)


@router.post("/conversations/{conversation_id}/labels", response={200: ConversationOut, **ERRORS},
             tags=["conversations"], summary="Add a label")
def conversation_label_add(request, conversation_id: str, body: LabelIn):
    key, conversation = _changed(request, conversation_id)
    actions.label_add(conversation=conversation, actor=key.actor, name=body.label)
    return _fresh(key, conversation_id)


@router.delete("/conversations/{conversation_id}/labels/{label}", response={200: ConversationOut, **ERRORS},
               tags=["conversations"], summary="Remove a label")
def conversation_label_remove(request, conversation_id: str, label: str):
    key, conversation = _changed(request, conversation_id)
    actions.label_remove(conversation=conversation, actor=key.actor, name=label)
    return _fresh(key, conversation_id)


@router.post("/conversations/{conversation_id}/read", response={200: ReadOut, **ERRORS}, tags=["conversations"],
             summary="Mark read")
def conversation_read_mark(request, conversation_id: str):
    key, conversation = _changed(request, conversation_id)
    return {"marked": actions.mark_read(conversation=conversation, actor=key.actor)}
