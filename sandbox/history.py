"""The sandbox's earlier conversations: what the Conversations API lists (sandbox/graph_conversations.py).

A thread is a Page's customer (one per PSID / IGSID) with its messages: the customer's and the
page's seeded ones (``ThreadMessage``) and the page's replies the Send API accepted
(``SentMessage``). ``history_seed`` gives a Page N earlier conversations for tests and demos; the
control endpoint ``POST /sandbox/control/history`` does the same over HTTP.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Max
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from sandbox import payloads
from sandbox.customers import customer_name
from sandbox.models import Customer, Page, SentMessage, ThreadMessage

INSTAGRAM_PREFIX = "ig_thread:"
MAX_SEED = 2000

CUSTOMER_LINES = (
    "Hi! Are you open on Sunday?", "Do you deliver to the city centre?", "Can I order a cake for Saturday?",
    "Thanks, see you tomorrow!", "Is the shop open late today?", "How much is the large box?",
)
PAGE_LINES = (
    "Hello! Yes, from 8 to 13.", "We do, within 5 km.", "Of course: which flavour?", "Thank you, see you!",
    "Until 20:00 today.", "It's 24 euros.",
)


@dataclass(frozen=True)
class Message:
    """One message of a thread, either side."""

    mid: str
    created_time: datetime
    from_page: bool
    text: str
    attachments: tuple[dict, ...] = ()


# THREAD IDS
# ------------------------------------------------------------------------------
def thread_id(customer: Customer) -> str:
    """The conversation id Meta gives the thread: ``t_…`` on Messenger, an opaque base64 id on Instagram."""
    if customer.platform == Customer.Platform.INSTAGRAM:
        return base64.urlsafe_b64encode(f"{INSTAGRAM_PREFIX}{customer.psid}".encode()).decode().rstrip("=")
    return f"t_{customer.psid}"


def thread_customer(conversation_id: str) -> Customer | None:
    """The customer of a conversation id, or None when it names no thread."""
    if conversation_id.startswith("t_"):
        psid, platform = conversation_id[2:], Customer.Platform.FACEBOOK
    else:
        try:
            decoded = base64.urlsafe_b64decode(conversation_id + "=" * (-len(conversation_id) % 4)).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        if not decoded.startswith(INSTAGRAM_PREFIX):
            return None
        psid, platform = decoded[len(INSTAGRAM_PREFIX):], Customer.Platform.INSTAGRAM
    return Customer.objects.select_related("page").filter(psid=psid, platform=platform).first()


# THREADS
# ------------------------------------------------------------------------------
def thread_messages(customer: Customer) -> list[Message]:
    """A thread's messages, newest first."""
    seeded = [
        Message(mid=m.mid, created_time=m.created_time, from_page=m.from_page, text=m.text,
                attachments=tuple(m.attachments))
        for m in ThreadMessage.objects.filter(customer=customer)
    ]
    sent = [
        Message(mid=s.message_id, created_time=s.created_at, from_page=True,
                text=str((s.body.get("message") or {}).get("text") or ""))
        for s in SentMessage.objects.filter(page_id=customer.page_id, recipient_id=customer.psid).exclude(message_id="")
    ]
    return sorted(seeded + sent, key=lambda m: (m.created_time, m.mid), reverse=True)


def page_threads(page: Page, platform: str) -> list[tuple[Customer, datetime]]:
    """The Page's threads on one platform, with their latest message's time, most recent first."""
    customers = {c.psid: c for c in Customer.objects.filter(page=page, platform=platform)}
    latest: dict[str, datetime] = {}
    seeded = (ThreadMessage.objects.filter(page=page, customer__platform=platform).values("customer__psid")
              .annotate(at=Max("created_time")).values_list("customer__psid", "at"))
    sent = (SentMessage.objects.filter(page=page, recipient_id__in=list(customers)).exclude(message_id="")
            .values("recipient_id").annotate(at=Max("created_at")).values_list("recipient_id", "at"))
    for psid, at in [*seeded, *sent]:
        latest[psid] = max(at, latest.get(psid, at))
    threads = [(customers[psid], at) for psid, at in latest.items() if psid in customers]
    return sorted(threads, key=lambda t: (t[1], t[0].psid), reverse=True)


# SEEDING
# ------------------------------------------------------------------------------
def thread_message_add(*, customer: Customer, text: str, at: datetime | None = None, from_page: bool = False,
                       mid: str | None = None) -> ThreadMessage:
    """One more message in a thread (a customer's whose webhook may never have been sent)."""
    when = at or timezone.now()
    message = ThreadMessage.objects.create(page=customer.page, customer=customer, mid=mid or payloads.new_mid(),
                                           from_page=from_page, text=text, created_time=when)
    if not from_page and (customer.last_message_at is None or customer.last_message_at < when):
        Customer.objects.filter(pk=customer.pk).update(last_message_at=when)
    return message


@transaction.atomic
def history_seed(*, page_id: str, conversations: int, days: int = 20, instagram: bool = False) -> list[Customer]:
    """Give the Page (``instagram``: its Instagram account) ``conversations`` earlier threads, spread
    over the last ``days`` days, each a customer's question and the page's answer. The customers
    are new (PSIDs of their own) so seeding again adds more threads."""
    page = Page.objects.get(page_id=page_id)
    platform = Customer.Platform.INSTAGRAM if instagram else Customer.Platform.FACEBOOK
    prefix = "98" if instagram else "71"
    start = Customer.objects.filter(page=page, platform=platform, psid__startswith=prefix + page_id[-6:]).count()
    now = timezone.now()
    span = timedelta(days=days) / max(1, conversations)
    customers, messages = [], []
    taken = set(Customer.objects.filter(page=page).values_list("first_name", "last_name"))
    for index in range(start, start + conversations):
        psid = f"{prefix}{page_id[-6:]}{index:08d}"
        first, last = customer_name(psid, taken={f"{f} {ln}" for f, ln in taken})
        taken.add((first, last))
        asked = now - span * (index - start + 1)
        customers.append(Customer(
            page=page, platform=platform, psid=psid, first_name=first, last_name=last, last_message_at=asked,
            username=f"{first}.{last.split(' ')[0]}".lower() if instagram else "",
        ))
        line = index % len(CUSTOMER_LINES)
        messages.append((psid, CUSTOMER_LINES[line], asked, False))
        messages.append((psid, PAGE_LINES[line], asked + min(span / 2, timedelta(minutes=10)), True))
    Customer.objects.bulk_create(customers)
    by_psid = {c.psid: c for c in Customer.objects.filter(psid__in=[c.psid for c in customers])}
    ThreadMessage.objects.bulk_create([
        ThreadMessage(page=page, customer=by_psid[psid], mid=payloads.new_mid(), from_page=from_page, text=text,
                      created_time=at)
        for psid, text, at, from_page in messages
    ])
    return list(by_psid.values())


@csrf_exempt
@require_http_methods(["POST"])
def control_history(request: HttpRequest) -> JsonResponse:
    """POST /sandbox/control/history {page_id, conversations, days?, instagram?}: seed earlier threads."""
    try:
        data = json.loads(request.body or b"{}")
        count, days = int(data.get("conversations") or 0), int(data.get("days") or 20)
    except (ValueError, TypeError, AttributeError):
        return JsonResponse({"error": "a JSON object with page_id and conversations (a number) is required"},
                            status=400)
    if not Page.objects.filter(page_id=str(data.get("page_id") or "")).exists():
        return JsonResponse({"error": "page_id of a sandbox page is required"}, status=400)
    if not 0 < count <= MAX_SEED or not 0 < days <= 365:
        return JsonResponse({"error": f"conversations must be 1 to {MAX_SEED}, days 1 to 365"}, status=400)
    customers = history_seed(page_id=str(data["page_id"]), conversations=count, days=days,
                             instagram=bool(data.get("instagram")))
    return JsonResponse({"conversations": len(customers)})
