"""The Handover Protocol as Meta answers it (docs/messenger-platform.md, "Handover Protocol").

Graph: ``GET /{page-id}/thread_owner?recipient=<PSID>``, ``POST /{page-id}/take_thread_control``
({recipient: {id}, metadata}) and ``POST /{page-id}/pass_thread_control`` ({recipient: {id},
target_app_id, metadata}), answered in Meta's shapes and errors. Our app is the Primary Receiver: a
thread without a ``ThreadControl`` row is ours. While another app owns a thread, the Send API refuses
our messages (10/2018300) and the customer's messages reach us as ``standby`` events.

``control_thread`` (``POST /sandbox/control/thread``) plays the other apps: Page Inbox taking a
thread from us, or handing it back, with the webhook Meta sends us for each.
"""

from __future__ import annotations

import json
import logging
import re
from typing import TYPE_CHECKING

from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from sandbox import payloads
from sandbox.graph import Auth, GraphRequest, MetaError, _page_for_page_token
from sandbox.models import Config, Customer, Page, ThreadControl

if TYPE_CHECKING:
    from django.http import HttpRequest

logger = logging.getLogger(__name__)

PATHS = frozenset({"thread_owner", "take_thread_control", "pass_thread_control"})
PAGE_INBOX_APP_ID = "263902037430900"
METADATA_MAX = 1000
APP_ID = re.compile(r"^\d{1,32}$")


def our_app_id() -> str:
    return str(settings.FACEBOOK_APP_ID)


def owner_of(page: Page, psid: str) -> str:
    """The app that owns the customer's thread on the Page (ours when nobody took it)."""
    row = ThreadControl.objects.filter(page=page, psid=psid).only("owner_app_id").first()
    return row.owner_app_id if row is not None else our_app_id()


def owner_set(page: Page, psid: str, app_id: str) -> None:
    if app_id == our_app_id():
        ThreadControl.objects.filter(page=page, psid=psid).delete()
    else:
        ThreadControl.objects.update_or_create(page=page, psid=psid, defaults={"owner_app_id": app_id})


def webhook_field(account_id: str, psid: str) -> str:
    """Where Meta puts a customer's event for our app: ``messaging`` if we own the thread, else ``standby``."""
    page = Page.objects.filter(page_id=account_id).first() or Page.objects.filter(ig_id=account_id).first()
    if page is None or owner_of(page, psid) == our_app_id():
        return "messaging"
    return "standby"


def _customer(page: Page, request: GraphRequest) -> Customer:
    recipient = request.body.get("recipient") or request.params.get("recipient") or {}
    if isinstance(recipient, str) and recipient.startswith("{"):
        try:
            recipient = json.loads(recipient)
        except ValueError:
            recipient = {}
    psid = str((recipient.get("id") if isinstance(recipient, dict) else recipient) or "").strip()
    if not psid:
        raise MetaError("(#100) The parameter recipient is required", code=100)
    customer = Customer.objects.filter(psid=psid, page=page).first()
    if customer is None:
        raise MetaError("(#100) No matching user found", code=100, subcode=2018001)
    return customer


def _metadata(request: GraphRequest) -> str:
    metadata = request.body.get("metadata", request.params.get("metadata", ""))
    if not isinstance(metadata, str):
        raise MetaError("(#100) Param metadata must be a string", code=100)
    if len(metadata) > METADATA_MAX:
        raise MetaError(f"(#100) Param metadata must be at most {METADATA_MAX} characters long", code=100)
    return metadata


def handle(request: GraphRequest, auth: Auth, object_id: str, edge: str) -> dict:
    page = _page_for_page_token(auth, object_id)
    if edge == "thread_owner":
        if request.method != "GET":
            raise MetaError(f"Unsupported {request.method.lower()} request.", code=100)
        customer = _customer(page, request)
        return {"data": [{"thread_owner": {"app_id": owner_of(page, customer.psid)}}]}
    if request.method != "POST":
        raise MetaError(f"Unsupported {request.method.lower()} request.", code=100)
    customer = _customer(page, request)
    metadata = _metadata(request)
    owner = owner_of(page, customer.psid)
    if edge == "take_thread_control":
        # We are the Primary Receiver: we may take any thread. Meta tells the app that lost it.
        owner_set(page, customer.psid, our_app_id())
        return {"success": True}
    target = str(request.body.get("target_app_id") or request.params.get("target_app_id") or "").strip()
    if not target:
        raise MetaError("(#100) The parameter target_app_id is required", code=100)
    if not APP_ID.match(target) or target == our_app_id():
        raise MetaError("(#100) Param target_app_id must be a valid app ID other than the calling app", code=100)
    if owner != our_app_id():
        raise MetaError("(#100) calling app is not the thread owner", code=100)
    # Meta tells the app that now has the thread (pass_thread_control goes to the target, not us).
    owner_set(page, customer.psid, target)
    logger.info("Sandbox: thread %s on %s passed to app %s (%s)", customer.psid, page.page_id, target, metadata)
    return {"success": True}


def send_allowed(request: GraphRequest, object_id: str) -> None:
    """The Send API refuses a message (not a sender action) while another app owns the thread."""
    message = request.body.get("message")
    recipient = str((request.body.get("recipient") or {}).get("id") or "")
    page = Page.objects.filter(page_id=object_id).first()
    if not message or not recipient or page is None:
        return
    if owner_of(page, recipient) != our_app_id():
        raise MetaError(
            "(#10) Message failed to send because another app is controlling this thread now.",
            code=10, subcode=2018300,
        )


# THE OTHER APPS (control endpoint for tests and demos)
# ------------------------------------------------------------------------------
def thread_control_event(*, page_id: str, psid: str, kind: str, previous: str, new: str, metadata: str) -> dict:
    """A ``messaging_handovers`` item as Meta sends it (in ``entry.messaging``)."""
    return {
        "sender": {"id": psid}, "recipient": {"id": page_id}, "timestamp": payloads.now_ms(),
        kind: {"previous_owner_app_id": previous, "new_owner_app_id": new, "metadata": metadata},
    }


@csrf_exempt
@require_http_methods(["POST"])
def control_thread(request: HttpRequest) -> JsonResponse:
    """Another app changes a thread's owner: {page_id, psid, owner_app_id (default Page Inbox), metadata?}.

    To another app: it takes the thread from us (``take_thread_control``, which Meta sends to us as
    the app that lost it), or, if another app had it, passes it on. Back to us: the owner passes it to
    us (``pass_thread_control``). The signed webhook goes where the sandbox sends every webhook.
    """
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return JsonResponse({"error": "a JSON object is required"}, status=400)
    page = Page.objects.filter(page_id=str(data.get("page_id") or "")).first()
    psid = str(data.get("psid") or "")
    new = str(data.get("owner_app_id") or PAGE_INBOX_APP_ID)
    if page is None or not psid or not APP_ID.match(new):
        return JsonResponse({"error": "page_id of a sandbox page, psid and a numeric owner_app_id are required"},
                            status=400)
    if not Customer.objects.filter(page=page, psid=psid).exists():
        return JsonResponse({"error": "psid is not a customer of that page"}, status=400)
    previous = owner_of(page, psid)
    if previous == new:
        return JsonResponse({"owner_app_id": new, "changed": False})
    owner_set(page, psid, new)
    kind = "take_thread_control" if previous == our_app_id() else "pass_thread_control"
    if new != our_app_id() and previous != our_app_id():
        # Between two other apps: Meta tells neither of them to us; our standby events just continue.
        return JsonResponse({"owner_app_id": new, "changed": True, "webhook": None})
    event = thread_control_event(
        page_id=page.page_id, psid=psid, kind=kind, previous=previous, new=new,
        metadata=str(data.get("metadata") or "")[:METADATA_MAX],
    )
    body = payloads.encode(payloads.envelope(
        object_type="page", entries=[payloads.entry(account_id=page.page_id, events=[event])]
    ))
    url = Config.get().webhook_url or settings.SANDBOX_WEBHOOK_URL
    try:
        status = payloads.post_webhook(url, body, settings.FACEBOOK_APP_SECRET)
    except Exception as exc:  # the receiver is down: the owner changed anyway, as at Meta
        return JsonResponse({"owner_app_id": new, "changed": True, "error": type(exc).__name__}, status=502)
    return JsonResponse({"owner_app_id": new, "changed": True, "webhook": kind, "status": status})
