"""Demo data for `make run`: a business, its owner, a connected sandbox page and a few conversations.

Everything goes through the product's own code paths: the page is connected by the connect service
(Graph client → sandbox Graph API) and the conversations arrive as signed webhook bodies processed
by the ingest service, so the demo shows exactly what a real installation would.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from accounts.models import Business, Membership, User
from accounts.services import (
    business_create,
    email_address_mark_verified,
    membership_create,
    team_create,
    team_set_members,
)
from inbox.ingest.drain import webhook_event_process
from inbox.models import Conversation, Label, WebhookEvent
from inbox.services.assignment import conversation_assign
from inbox.services.contact_profile import contact_profile_update
from inbox.services.labels import label_create, labels_add
from inbox.services.notes import note_create
from inbox.services.saved_replies import saved_reply_create
from sandbox import payloads
from sandbox.graph import customer_message_received, dialog_code_create
from sandbox.inprocess import sandbox_in_process
from sandbox.models import Config, FacebookUser
from sandbox.seed import seed
from social.graph import get_session
from social.models import Platform, SocialAccount
from social.services import accounts_connect, user_token_extend, user_token_from_code

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-password"
DEMO_BUSINESS = "Bakery Rossi"
# A colleague, so the team features have someone to assign to and mention (same password).
DEMO_COLLEAGUE_EMAIL = "marco@example.com"
DEMO_COLLEAGUE_NAME = "Marco Bianchi"
PAGE_ID = "104857600123456"
INSTAGRAM_ID = "17841400000000000"
PAGE_OWNER_FB_ID = "10215241773831025"
MINUTE = 60_000
GIULIA = "7012345678901234"


@dataclass
class DemoResult:
    user_created: bool
    business: Business
    connected: int
    messages: int


def _messages(now: int) -> list[tuple[str, dict]]:
    """(object type, messaging item) in the order they happened."""
    giulia, luca, sofia, marta = GIULIA, "7012345678905678", "7012345678909012", "987654321012345"
    cdn = settings.SITE_URL.rstrip("/") + "/sandbox/cdn"
    return [
        ("page", payloads.text_message(page_id=PAGE_ID, psid=sofia, mid="m_demo_sofia_1", timestamp_ms=now - 26 * 60 * MINUTE,
                                       text="Thank you, the birthday cake was perfect! \U0001f382")),
        ("page", payloads.echo(page_id=PAGE_ID, psid=sofia, mid="m_demo_sofia_2", timestamp_ms=now - 25 * 60 * MINUTE,
                               text="So glad to hear it, Sofia! See you soon.")),
        ("page", payloads.text_message(page_id=PAGE_ID, psid=giulia, mid="m_demo_giulia_1",
                                       timestamp_ms=now - 120 * MINUTE, text="Hi! Are you open on Sunday?")),
        ("page", payloads.echo(page_id=PAGE_ID, psid=giulia, mid="m_demo_giulia_2", timestamp_ms=now - 118 * MINUTE,
                               text="Yes, from 8am to 1pm \u2014 come by!")),
        ("page", payloads.reaction(page_id=PAGE_ID, psid=giulia, mid="m_demo_giulia_2")),
        ("page", payloads.text_message(page_id=PAGE_ID, psid=luca, mid="m_demo_luca_1", timestamp_ms=now - 35 * MINUTE,
                                       text="Is this cake available for Saturday?")),
        ("page", payloads.attachment_message(page_id=PAGE_ID, psid=luca, mid="m_demo_luca_2", type="image",
                                             url=f"{cdn}/cake.png", timestamp_ms=now - 34 * MINUTE)),
        ("instagram", payloads.text_message(page_id=INSTAGRAM_ID, psid=marta, mid="aWdfZAG1fZGVtb19tYXJ0YV8x",
                                            timestamp_ms=now - 12 * MINUTE, text="Do you ship pastries to Milan?")),
        ("page", payloads.text_message(page_id=PAGE_ID, psid=giulia, mid="m_demo_giulia_3", timestamp_ms=now - 4 * MINUTE,
                                       text="Great! Can I pre-order two focacce for Sunday morning?")),
    ]


def _owner() -> tuple[User, bool]:
    user, created = get_user_model().objects.get_or_create(
        email=DEMO_EMAIL, defaults={"name": "Demo Owner", "is_staff": True, "is_superuser": True}
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    # Email verification is mandatory: the demo login must work at once (also for older demo data).
    email_address_mark_verified(user=user)
    return user, created


def _business(user: User) -> Business:
    membership = Membership.objects.filter(user=user, business__name=DEMO_BUSINESS).select_related("business").first()
    return membership.business if membership else business_create(name=DEMO_BUSINESS, owner=user)


def _connect(business: Business, user: User) -> int:
    """Connect the sandbox page and its Instagram account the way staff would: dialog code → tokens → pages."""
    if SocialAccount.objects.filter(business=business, account_id=PAGE_ID, platform=Platform.FACEBOOK).exists():
        return 0
    redirect_uri = settings.SITE_URL.rstrip("/") + "/social/connect/callback/"
    code = dialog_code_create(
        user=FacebookUser.objects.get(fb_id=PAGE_OWNER_FB_ID), redirect_uri=redirect_uri,
        scopes=list(settings.FACEBOOK_LOGIN_SCOPES), page_ids=[PAGE_ID],
    )
    short = user_token_from_code(code=code.code, redirect_uri=redirect_uri, business=business, actor=user)
    long_lived = user_token_extend(token=short.token, business=business, actor=user)
    result = accounts_connect(
        business=business, actor=user, user_token=long_lived, page_ids=[PAGE_ID], instagram_ids=[INSTAGRAM_ID]
    )
    if result.refused:
        raise RuntimeError("; ".join(str(r) for r in result.refused))
    return len(result.connected)


def _conversations(business: Business) -> int:
    if Conversation.objects.for_business(business).exists():
        return 0
    now = payloads.now_ms()
    count = 0
    for object_type, item in _messages(now):
        account_id = item["recipient"]["id"] if "message" not in item or not item["message"].get("is_echo") else item["sender"]["id"]
        customer = item["sender"]["id"] if account_id == item["recipient"]["id"] else item["recipient"]["id"]
        customer_message_received(psid=customer, page_id=account_id)
        body = payloads.encode(payloads.envelope(
            object_type=object_type, entries=[payloads.entry(account_id=account_id, events=[item])]
        ))
        event = WebhookEvent.objects.create(body=body, signature=payloads.sign(body, settings.FACEBOOK_APP_SECRET))
        webhook_event_process(event_id=event.pk)
        count += 1
    return count


def _user(*, email: str, name: str) -> User:
    user, created = get_user_model().objects.get_or_create(email=email, defaults={"name": name})
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    email_address_mark_verified(user=user)
    return user


def _team(business: Business, owner: User) -> None:
    """A colleague in a team, labels, saved replies, and one conversation assigned, labelled and
    noted: through the same services staff use, once."""
    if Label.objects.for_business(business).exists():
        return
    colleague = _user(email=DEMO_COLLEAGUE_EMAIL, name=DEMO_COLLEAGUE_NAME)
    membership = Membership.objects.filter(business=business, user=colleague).first() or membership_create(
        business=business, user=colleague, role=Membership.Role.AGENT, actor=owner
    )
    team = team_create(business=business, name="Orders", actor=owner)
    team_set_members(team=team, membership_ids=[membership.pk], actor=owner)
    vip = label_create(business=business, user=owner, name="VIP", colour=Label.Colour.PURPLE)
    label_create(business=business, user=owner, name="Wholesale", colour=Label.Colour.BLUE)
    label_create(business=business, user=owner, name="Follow up", colour=Label.Colour.YELLOW)
    saved_reply_create(
        business=business, user=owner, code="hours",
        text="Hi {{first_name}}! We're open Monday to Saturday 7am–7pm and Sunday 8am–1pm. {{agent_name}}",
    )
    saved_reply_create(business=business, user=owner, code="thanks", text="Thank you, {{first_name}}! See you soon.")
    giulia = Conversation.objects.for_business(business).filter(contact__external_id=GIULIA).first()
    if giulia is None:
        return
    conversation_assign(conversation=giulia, actor=owner, assignee=colleague, team=team)
    labels_add(business=business, user=owner, conversation_ids=[giulia.pk], label_ids=[vip.pk])
    note_create(
        conversation=giulia, user=owner,
        text=f"@{DEMO_COLLEAGUE_NAME} she orders for her whole office: offer the box of twelve.",
    )
    contact_profile_update(
        business=business, user=owner, contact=giulia.contact,
        notes="Orders for her office most Fridays; pays by invoice. Allergic to hazelnuts.",
        attributes={"Company": "Studio Verdi", "Usual order": "Box of twelve cornetti"},
    )


def demo_seed() -> DemoResult:
    seed()
    # Receipts for demo replies come back as webhooks from a background thread of the running server.
    Config.objects.update_or_create(pk=1, defaults={"send_receipts": True})
    with sandbox_in_process(get_session(), settings.FACEBOOK_GRAPH_URL.split("/sandbox/")[0] + "/sandbox/"):
        with transaction.atomic():
            user, created = _owner()
            business = _business(user)
        connected = _connect(business, user)
        messages = _conversations(business)
        with transaction.atomic():
            _team(business, user)
    return DemoResult(user_created=created, business=business, connected=connected, messages=messages)
