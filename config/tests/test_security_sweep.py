"""The security sweep: every URL and WebSocket route, as an intruder, a stranger and a forger of requests.

The URL list is read from the resolver, so a new view is swept the day it is added. A view whose URL
carries an object id must be listed in ``ROUTE_OBJECTS`` (which object of business A the id names);
one that is not makes ``test_every_route_is_classified`` fail and says what to add.

Also here: the token redaction of ``config.logging`` and the log guard that fails any test that logs
a token (``config/tests/log_guard.py``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pytest
import responses
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.signing import dumps
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts.middleware import SESSION_KEY
from accounts.models import Invitation, Membership, Team
from accounts.tests.factories import BusinessFactory, InvitationFactory, MembershipFactory, UserFactory
from config.logging import RedactTokensFilter, redact
from config.tests.log_guard import find_secret
from inbox.models import Attachment, ChatMessage, Conversation, Label, SavedReply, WebhookEvent
from inbox.tests.factories import AttachmentFactory, ChatMessageFactory, ContactFactory, ConversationFactory
from social.tests.factories import SocialAccountFactory

pytestmark = pytest.mark.django_db

LOGIN_PATHS = ("/accounts/login/", "/admin/login/")
# Strings only business A's objects contain: none may appear in a page another business sees.
MARKERS = ("Alpha Tenant Page", "Zeta Alphason", "alpha-secret-content-8841", "alpha-outbound-8841", "agent@alpha.example",
           "invitee@alpha.example")

# --- the route table ----------------------------------------------------------------------------------

# Which object of business A each id in a URL names (object names: see TenantA). Every route of ours with
# a URL argument must be here. A member of business B asking for these gets a 404, whatever the method.
ROUTE_OBJECTS: dict[str, dict[str, str]] = {
    "accounts:business_switch": {"business_id": "business"},
    "accounts:member_remove": {"membership_id": "membership"},
    "accounts:member_role": {"membership_id": "membership"},
    "accounts:invitation_resend": {"invitation_id": "invitation"},
    "accounts:invitation_revoke": {"invitation_id": "invitation"},
    "inbox:conversation_detail": {"public_id": "conversation"},
    "inbox:message_list": {"public_id": "conversation"},
    "inbox:reply": {"public_id": "conversation"},
    "inbox:conversation_read": {"public_id": "conversation"},
    "inbox:conversation_unread": {"public_id": "conversation"},
    "inbox:conversation_resolve": {"public_id": "conversation"},
    "inbox:conversation_reopen": {"public_id": "conversation"},
    "inbox:conversation_pending": {"public_id": "conversation"},
    "inbox:conversation_snooze": {"public_id": "conversation"},
    "inbox:conversation_unsnooze": {"public_id": "conversation"},
    "inbox:conversation_priority": {"public_id": "conversation"},
    "inbox:assignee_picker": {"public_id": "conversation"},
    "inbox:conversation_assign": {"public_id": "conversation"},
    "accounts:team_rename": {"team_id": "team"},
    "accounts:team_delete": {"team_id": "team"},
    "accounts:team_members": {"team_id": "team"},
    "inbox:message_retry": {"public_id": "outbound"},
    "inbox:message_text": {"public_id": "message"},
    "inbox:message_react": {"public_id": "message"},
    "inbox:comment_reply": {"public_id": "comment"},
    "inbox:comment_private_reply": {"public_id": "comment"},
    "inbox:comment_hide": {"public_id": "comment"},
    "inbox:comment_delete": {"public_id": "comment"},
    "inbox:message_unreact": {"public_id": "message"},
    "inbox:conversation_typing": {"public_id": "conversation"},
    "inbox:note_create": {"public_id": "conversation"},
    "inbox:conversation_labels": {"public_id": "conversation"},
    "inbox:thread_take": {"public_id": "conversation"},
    "inbox:thread_pass": {"public_id": "conversation"},
    "inbox:thread_owner_check": {"public_id": "conversation"},
    "inbox:label_update": {"pk": "label"},
    "inbox:label_delete": {"pk": "label"},
    "inbox:saved_reply_picker": {"public_id": "conversation"},
    "inbox:saved_reply_fill": {"public_id": "conversation", "reply_pk": "saved_reply"},
    "inbox:saved_reply_update": {"pk": "saved_reply"},
    "inbox:saved_reply_delete": {"pk": "saved_reply"},
    "inbox:attachment_download": {"pk": "attachment"},
    "inbox:contact_picture": {"pk": "contact"},
    "inbox:contact_panel": {"public_id": "conversation"},
    "inbox:contact_profile_edit": {"public_id": "conversation"},
    "inbox:contact_search": {"public_id": "conversation"},
    "inbox:contact_merge": {"public_id": "conversation"},
    "inbox:contact_split": {"public_id": "conversation"},
    "inbox:account_policy_notice_dismiss": {"public_id": "account"},
    "inbox:channel_health": {"public_id": "account"},
    "inbox:channel_event_replay": {"public_id": "account", "event_pk": "webhook_event"},
    "inbox:channel_test_message": {"public_id": "account"},
    "inbox:history_import_status": {"public_id": "account"},
    "inbox:history_import_begin": {"public_id": "account"},
    "social:account_reconnect": {"public_id": "account"},
    "social:account_disconnect": {"public_id": "account"},
    "social:account_human_agent": {"public_id": "account"},
    "social:account_auto_assign": {"public_id": "account"},
    "social:messenger_profile": {"public_id": "account"},
    "social:messenger_profile_read": {"public_id": "account"},
    "outbound:webhook_detail": {"pk": "webhook_endpoint"},
    "outbound:webhook_rotate": {"pk": "webhook_endpoint"},
    "outbound:webhook_enable": {"pk": "webhook_endpoint"},
    "outbound:webhook_disable": {"pk": "webhook_endpoint"},
    "outbound:webhook_delete": {"pk": "webhook_endpoint"},
    "outbound:webhook_replay": {"pk": "webhook_endpoint", "delivery_pk": "webhook_delivery"},
    "api:api_key_revoke": {"pk": "api_key"},
}
# Reachable without a login on purpose; each has its own test below.
PUBLIC_ROUTES: dict[str, str] = {
    "webhooks:facebook": "Meta's webhook: verify token on GET, X-Hub-Signature-256 on POST (test_the_webhook_*)",
    "inbox:attachment_public": "signed, expiring URL Meta fetches reply attachments from (test_attachment_public_*)",
    "accounts:invitation_open": "the link mailed to an invitee; its token is the credential (accounts/tests/test_invitations.py)",
    "accounts:invitation_accept": "accepts the invitation whose link was opened in this session, also for a person without "
                                  "an account yet; 404 otherwise (accounts/tests/test_invitations.py)",
    "compliance:data_deletion": "Meta's data deletion callback: the signed_request (HMAC-SHA256, app secret) is the "
                                "credential; 400 and nothing changed otherwise (inbox/tests/test_compliance.py)",
    "compliance:data_deletion_status": "the status page Meta links the person to; the random confirmation code is "
                                       "the credential, it shows counts only (inbox/tests/test_compliance.py)",
    "compliance:deauthorize": "Meta's deauthorize callback, checked as the data deletion one (inbox/tests/test_compliance.py)",
}
PUBLIC_ROUTES["api_docs"] = "the REST API's documentation page: no business data (api/tests/test_openapi.py)"
# The REST API answers bearer API keys, not sessions: its tenancy sweep is api/tests/test_tenancy.py.
KEY_API_PREFIX = "api/v1/"
# Pages of the inbox that show no conversation of B by design (the marker check above still applies).
PAGES_WITHOUT_CONVERSATIONS = {
    "inbox:dashboard", "inbox:mention_list", "inbox:mention_members", "inbox:notification_list",
    "inbox:notification_bell", "inbox:notifications_read",
    "inbox:label_list", "inbox:saved_reply_list", "inbox:bulk_assignees",
    "inbox:reports", "inbox:report_export",
}
# Actions whose objects come in the POST (the selected conversations' ids), not in the URL: business A's
# ids posted by a member of B change nothing of A (test_bulk_actions_ignore_another_business_ids).
BULK_ROUTES = ("inbox:bulk_resolve", "inbox:bulk_reopen", "inbox:bulk_read", "inbox:bulk_unread", "inbox:bulk_assign",
               "inbox:bulk_label_add", "inbox:bulk_label_remove")
# The only views allowed to skip the CSRF check.
CSRF_EXEMPT = {"webhooks:facebook", "compliance:data_deletion", "compliance:deauthorize"}
# Ours: the apps of the product. Others are Django's admin and allauth (swept more lightly) and the
# sandbox (a fake Meta, mounted only outside production: see test_headers.py).
OUR_MODULES = ("accounts.", "inbox.", "social.", "config.", "outbound.", "api.")
THIRD_PARTY_MODULES = ("allauth.", "django.contrib.admin", "django.contrib.auth.admin", "django.contrib.contenttypes",
                       "django_celery_beat.", "django.views.generic")
SANDBOX_MODULES = ("sandbox.",)


@dataclass(frozen=True)
class Route:
    name: str  # "namespace:name" (or the bare name for allauth's)
    pattern: str
    kwargs: tuple[str, ...]
    module: str
    csrf_exempt: bool

    @property
    def ours(self) -> bool:
        return self.module.startswith(OUR_MODULES) and not self.pattern.startswith(KEY_API_PREFIX)

    def __str__(self) -> str:
        return self.name


def _walk(resolver: URLResolver, prefix: str = "", namespace: str = "") -> list[Route]:
    routes: list[Route] = []
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = entry.namespace or ""
            routes.extend(_walk(entry, prefix + str(entry.pattern),
                                f"{namespace}:{inner}".strip(":") if inner else namespace))
        elif isinstance(entry, URLPattern):
            callback = entry.callback
            name = f"{namespace}:{entry.name}" if namespace and entry.name else (entry.name or "")
            routes.append(Route(
                name=name or f"<unnamed {prefix}{entry.pattern}>",
                pattern=prefix + str(entry.pattern),
                kwargs=tuple(sorted(entry.pattern.regex.groupindex)),
                module=getattr(callback, "__module__", "") or "",
                csrf_exempt=bool(getattr(callback, "csrf_exempt", False)),
            ))
    return routes


ROUTES = _walk(get_resolver())
OUR_ROUTES = [route for route in ROUTES if route.ours]
OBJECT_ROUTES = [route for route in OUR_ROUTES if route.kwargs and route.name not in PUBLIC_ROUTES]
PLAIN_ROUTES = [route for route in OUR_ROUTES if not route.kwargs and route.name not in PUBLIC_ROUTES]
PRIVATE_ROUTES = [route for route in OUR_ROUTES if route.name not in PUBLIC_ROUTES]
ALLAUTH_PLAIN_ROUTES = [
    route for route in ROUTES if route.module.startswith("allauth.") and not route.kwargs and ":" not in route.name
    and not route.name.startswith("<")
]


def test_the_sweep_sees_the_product_routes():
    names = {route.name for route in OUR_ROUTES}
    # If these disappear the walk is broken, not the product.
    assert {"inbox:conversation_list", "inbox:conversation_detail", "webhooks:facebook", "accounts:team"} <= names
    assert len(OBJECT_ROUTES) >= 10


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_every_route_is_classified(route):
    if route.module.startswith(THIRD_PARTY_MODULES) or route.module.startswith(SANDBOX_MODULES):
        return
    if route.pattern.startswith(KEY_API_PREFIX):
        return
    assert route.ours, (
        f"{route.name} ({route.pattern}) is served by {route.module!r}, which the security sweep does not know: "
        "add the module to OUR_MODULES (and its ids to ROUTE_OBJECTS) in config/tests/test_security_sweep.py"
    )
    if route.name in PUBLIC_ROUTES or not route.kwargs:
        return
    mapping = ROUTE_OBJECTS.get(route.name, {})
    missing = [kwarg for kwarg in route.kwargs if kwarg not in mapping]
    assert not missing, (
        f"{route.name} ({route.pattern}) takes {', '.join(missing)} but the security sweep does not know which object "
        f"that names: add {route.name!r}: {{{', '.join(f'{k!r}: <object>' for k in missing)}}} to ROUTE_OBJECTS in "
        f"config/tests/test_security_sweep.py (objects: {', '.join(TenantA.OBJECTS)}), so another business's "
        "member is checked to get a 404 there"
    )
    assert set(mapping.values()) <= set(TenantA.OBJECTS)


# The objects the seed and the REST API name by a public UUID: the app's URLs name them so too, and their
# integer keys stay inside (a URL shows neither how many there are nor which came first).
PUBLIC_ID_OBJECTS = {"account", "conversation", "message", "outbound", "comment"}


@pytest.mark.parametrize("route", OBJECT_ROUTES, ids=str)
def test_conversations_messages_and_pages_are_named_by_their_public_uuid(route):
    for kwarg, obj in ROUTE_OBJECTS.get(route.name, {}).items():
        if obj in PUBLIC_ID_OBJECTS:
            assert kwarg == "public_id" and f"<uuid:{kwarg}>" in route.pattern, (
                f"{route.name} ({route.pattern}) names a {obj} by {kwarg}: use <uuid:public_id>"
            )


def test_an_integer_id_in_place_of_a_public_one_is_a_404(tenants):
    client = _client_for(tenants.owner)
    assert client.get(f"/inbox/c/{tenants.conversation.pk}/").status_code == 404
    assert client.get(f"/inbox/pages/{tenants.account.pk}/health/").status_code == 404
    assert client.get(tenants.conversation.get_absolute_url()).status_code == 200


@pytest.mark.parametrize("name", sorted(ROUTE_OBJECTS))
def test_route_objects_lists_no_route_that_is_gone(name):
    assert name in {route.name for route in OBJECT_ROUTES}, f"{name} is in ROUTE_OBJECTS but no longer a URL"


# --- the two tenants ----------------------------------------------------------------------------------------------


@dataclass
class TenantA:
    """Business A with one of everything a URL can name, and the intruder: a member of business B."""

    OBJECTS = ("business", "membership", "invitation", "account", "contact", "conversation", "message", "outbound",
               "comment",
               "attachment", "team", "label", "saved_reply", "webhook_event",
               "webhook_endpoint", "webhook_delivery", "api_key")

    business: Any
    owner: Any
    membership: Any  # an agent of A (what the team pages name)
    invitation: Any  # a pending invitation of A
    account: Any
    contact: Any
    conversation: Any
    message: Any
    outbound: Any  # a failed reply (what "retry" names)
    comment: Any  # a customer's comment on a post of A's page (what the comment actions name)
    attachment: Any  # a stored customer file
    public_attachment: Any  # a file attached to a reply (what Meta fetches)
    team: Any  # a team of A's members
    label: Any
    saved_reply: Any
    webhook_event: Any  # a failed webhook event naming A's page (what channel health replays)
    webhook_endpoint: Any  # an outbound webhook endpoint of A
    webhook_delivery: Any  # one of its deliveries (what replay names)
    api_key: Any  # an API key of A (what revoke names)
    other_business: Any
    other_member: Any

    def url(self, route: Route) -> str:
        mapping = ROUTE_OBJECTS.get(route.name, {})
        # Conversations, messages and pages are named by their public UUID, other objects by their key.
        kwargs = {
            kwarg: getattr(getattr(self, mapping[kwarg]), "public_id" if kwarg == "public_id" else "pk")
            for kwarg in route.kwargs
        }
        return reverse(route.name, kwargs=kwargs)


@pytest.fixture
def tenants(db) -> TenantA:
    business = BusinessFactory(name="Alpha Tenant Bakery")
    owner = MembershipFactory(business=business, user__email="owner@alpha.example").user
    agent = MembershipFactory(business=business, role=Membership.Role.AGENT, user__email="agent@alpha.example")
    invitation = InvitationFactory(business=business, email="invitee@alpha.example", invited_by=owner)
    account = SocialAccountFactory(business=business, account_name="Alpha Tenant Page")
    contact = ContactFactory(account=account, name="Zeta Alphason")
    contact.picture.save("alpha.jpg", ContentFile(b"\xff\xd8\xff\xe0alpha-picture"), save=True)
    conversation = ConversationFactory(contact=contact, last_message_preview="alpha-secret-content-8841")
    message = ChatMessageFactory(conversation=conversation, content="alpha-secret-content-8841")
    outbound = ChatMessageFactory(
        conversation=conversation, direction=ChatMessage.Direction.OUTBOUND, source=ChatMessage.Source.INBOX,
        status=ChatMessage.Status.FAILED, message_id=None, content="alpha-outbound-8841", error="Timed out",
        client_token="alpha-client-token-1", messaging_type="RESPONSE",
    )
    comments = ConversationFactory(
        contact=ContactFactory(account=account, name="Zeta Commenter"), kind=Conversation.Kind.COMMENTS,
        post_id=f"{account.account_id}_1001", post_excerpt="alpha-secret-content-8841",
    )
    comment = ChatMessageFactory(conversation=comments, kind=ChatMessage.Kind.COMMENT,
                                 message_id=f"{account.account_id}_1001_2002", content="alpha-secret-content-8841")
    attachment = AttachmentFactory(message=message, state=Attachment.State.STORED, mime_type="image/jpeg", name="a.jpg")
    attachment.file.save("alpha.jpg", ContentFile(b"\xff\xd8\xff\xe0alpha-file"), save=True)
    public_attachment = AttachmentFactory(message=outbound, state=Attachment.State.STORED, mime_type="image/png",
                                          name="reply.png", url="")
    public_attachment.file.save("reply.png", ContentFile(b"\x89PNG\r\n\x1a\nalpha-reply"), save=True)
    other_business = BusinessFactory(name="Beta Shop")
    other_member = MembershipFactory(business=other_business, user__email="owner@beta.example").user
    other_account = SocialAccountFactory(business=other_business, account_name="Beta Page")
    ChatMessageFactory(conversation=ConversationFactory(contact=ContactFactory(account=other_account, name="Bea Beta")),
                       content="beta content")
    return TenantA(
        business=business, owner=owner, membership=agent, invitation=invitation, account=account, contact=contact,
        conversation=conversation, message=message, outbound=outbound, comment=comment, attachment=attachment,
        public_attachment=public_attachment, other_business=other_business, other_member=other_member,
        team=Team.objects.create(business=business, name="Alpha Support"),
        label=Label.objects.create(business=business, name="Alpha Label"),
        saved_reply=SavedReply.objects.create(business=business, code="alpha", text="alpha-secret-content-8841"),
        webhook_event=WebhookEvent.objects.create(
            body=b"{}", state=WebhookEvent.State.FAILED, object_type="page", account_ids=[account.account_id],
            last_error="alpha-secret-content-8841",
        ),
        **_outbound_objects(business),
        api_key=_api_key(business, owner),
    )


def _api_key(business, owner):
    from api.keys import api_key_create

    return api_key_create(business=business, user=owner, name="alpha-secret-content-8841", scope="read").key


def _outbound_objects(business) -> dict[str, Any]:
    from outbound.models import WebhookDelivery
    from outbound.tests.factories import WebhookEndpointFactory

    endpoint = WebhookEndpointFactory(business=business, url="https://alpha-outbound-8841.example.com/hook")
    delivery = WebhookDelivery.objects.create(business=business, endpoint=endpoint, event="message.created",
                                              payload={"data": "alpha-secret-content-8841"})
    return {"webhook_endpoint": endpoint, "webhook_delivery": delivery}


@pytest.fixture
def no_network():
    """Any HTTP call a view makes (Graph API, downloads) fails at once instead of leaving the machine."""
    with responses.RequestsMock(assert_all_requests_are_fired=False):
        yield


def _client_for(user, *, business=None, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    if business is not None:
        session = client.session
        session[SESSION_KEY] = business.pk
        session.save()
    return client


INTRUDERS = ["member_of_b", "member_of_b_with_forged_session"]


def _intruder(tenants: TenantA, kind: str) -> Client:
    if kind == "member_of_b":
        return _client_for(tenants.other_member)
    # The session names business A although the user only belongs to B (a stale or tampered session).
    return _client_for(tenants.other_member, business=tenants.business)


def _assert_no_marker(response, where: str) -> None:
    content = getattr(response, "content", b"") or b""
    text = content.decode(errors="replace")
    for marker in MARKERS:
        assert marker not in text, f"{where}: business A's {marker!r} shown to another business"


# --- another business's member --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", INTRUDERS)
@pytest.mark.parametrize("route", OBJECT_ROUTES, ids=str)
def test_another_business_gets_404_for_every_object_url(route, kind, tenants, no_network):
    client = _intruder(tenants, kind)
    url = tenants.url(route)
    statuses = {}
    for method in ("get", "post"):
        response = getattr(client, method)(url, {"priority": "high", "text": "intrusion", "role": "admin"})
        statuses[method] = response.status_code
        # 405: the view does not take this method at all (it never looked the object up).
        assert response.status_code in (404, 405), f"{method.upper()} {url} ({route}) as {kind}: {response.status_code}"
        _assert_no_marker(response, f"{method.upper()} {url}")
    assert 404 in statuses.values(), f"{route} answers neither GET nor POST with a 404: {statuses}"
    # Nothing of A changed.
    tenants.conversation.refresh_from_db()
    assert tenants.conversation.status == "open"
    assert tenants.conversation.priority == "none"
    assert Membership.objects.filter(pk=tenants.membership.pk, role=Membership.Role.AGENT).exists()
    tenants.invitation.refresh_from_db()
    assert tenants.invitation.is_usable  # neither revoked nor resent (a resend replaces the link's hash)
    assert tenants.invitation.token_hash == Invitation.hash_token(tenants.invitation.token)
    assert not ChatMessage.objects.filter(content="intrusion").exists()


@pytest.mark.parametrize("kind", INTRUDERS)
@pytest.mark.parametrize("name", BULK_ROUTES)
def test_bulk_actions_ignore_another_business_ids(name, kind, tenants):
    assert name in {route.name for route in PLAIN_ROUTES}
    client = _intruder(tenants, kind)
    data = {"ids": [tenants.conversation.pk], "assignee": str(tenants.owner.pk), "label": str(tenants.label.pk)}
    response = client.post(reverse(name), data, HTTP_HX_REQUEST="true")
    assert response.status_code in (200, 400), f"POST {name} as {kind}: {response.status_code}"
    _assert_no_marker(response, f"POST {name}")
    conversation = type(tenants.conversation).objects.get(pk=tenants.conversation.pk)
    assert (conversation.status, conversation.assignee_id, conversation.unread_count) == ("open", None, 0)
    assert not conversation.labels.exists()
    assert not ChatMessage.objects.filter(conversation=conversation, is_read=True).exists()


@pytest.mark.parametrize("kind", INTRUDERS)
@pytest.mark.parametrize("route", PLAIN_ROUTES, ids=str)
def test_another_business_sees_nothing_of_a_on_any_page(route, kind, tenants, no_network):
    client = _intruder(tenants, kind)
    response = client.get(reverse(route.name))
    assert response.status_code < 500
    _assert_no_marker(response, f"GET {route}")
    if response.status_code == 200 and route.name.startswith("inbox:"):
        # The page is about B: its own conversation shows (on the pages that list conversations).
        assert "Bea Beta" in response.content.decode() or route.name in PAGES_WITHOUT_CONVERSATIONS


@pytest.mark.parametrize("route", OBJECT_ROUTES, ids=str)
def test_the_owner_reaches_every_object_url(route, tenants, no_network):
    """The mapping is right: business A's own owner is not refused (so the intruder's 404 means something)."""
    client = _client_for(tenants.owner)
    url = tenants.url(route)
    statuses = {}
    for method in ("get", "post"):
        response = getattr(client, method)(url, {"priority": "high", "text": "hello", "role": "admin"})
        statuses[method] = response.status_code
        assert response.status_code != 500
    assert any(status not in (404, 405) for status in statuses.values()), f"{route} refuses its own owner: {statuses}"


# --- anonymous visitors -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", PRIVATE_ROUTES, ids=str)
def test_an_anonymous_visitor_is_sent_to_login_or_refused(route, client, tenants, no_network):
    url = tenants.url(route)
    for method in ("get", "post"):
        response = getattr(client, method)(url)
        if response.status_code in (301, 302, 303, 307, 308):
            assert response["Location"].startswith(LOGIN_PATHS) or "/accounts/login/" in response["Location"], (
                f"{method.upper()} {url} redirects an anonymous visitor to {response['Location']}"
            )
        else:
            assert response.status_code in (401, 403, 404, 405), f"{method.upper()} {url}: {response.status_code}"
        _assert_no_marker(response, f"anonymous {method.upper()} {url}")


def test_a_member_who_is_not_staff_cannot_open_the_admin(tenants):
    client = _client_for(tenants.owner)
    for url in ("/admin/", "/admin/inbox/chatmessage/", f"/admin/social/socialaccount/{tenants.account.pk}/change/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/admin/login/")


# --- CSRF -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", OUR_ROUTES + ALLAUTH_PLAIN_ROUTES, ids=str)
def test_a_post_without_csrf_token_is_refused(route, tenants, no_network):
    if route.name in CSRF_EXEMPT:
        assert route.csrf_exempt
        return
    assert not route.csrf_exempt, f"{route} is csrf_exempt: only {sorted(CSRF_EXEMPT)} may be"
    client = _client_for(tenants.owner, csrf=True)
    if route.name in ("inbox:attachment_public", "accounts:invitation_open"):
        url = reverse(route.name, kwargs={"token": "x"})
    elif route.name == "compliance:data_deletion_status":
        url = reverse(route.name, kwargs={"code": "x"})
    elif route.kwargs:
        url = tenants.url(route)
    else:
        url = reverse(route.name)
    response = client.post(url, {"text": "forged", "priority": "urgent", "email": "x@example.com", "role": "admin"})
    assert response.status_code == 403, f"POST {url} without a CSRF token: {response.status_code}"
    assert not ChatMessage.objects.filter(content="forged").exists()


def test_the_webhook_is_csrf_exempt_but_checks_the_signature(client, tenants):
    url = reverse("webhooks:facebook")
    csrf_client = Client(enforce_csrf_checks=True)
    body = b'{"object":"page","entry":[]}'
    assert csrf_client.post(url, body, content_type="application/json").status_code == 403  # no signature
    forged = csrf_client.post(url, body, content_type="application/json",
                              HTTP_X_HUB_SIGNATURE_256="sha256=" + "0" * 64)
    assert forged.status_code == 403
    assert client.get(url).status_code == 403  # a verification without the verify token


# --- the public attachment URL -------------------------------------------------------------------------------


def _public_url(attachment: Attachment, *, salt: str = "inbox.attachment.public", business_id: int | None = None) -> str:
    token = dumps({"a": attachment.pk, "b": business_id or attachment.business_id}, salt=salt, compress=True)
    return reverse("inbox:attachment_public", kwargs={"token": token})


def test_attachment_public_serves_only_what_was_signed(client, tenants):
    from inbox.services.replies import attachment_public_url

    url = attachment_public_url(attachment=tenants.public_attachment)
    path = url[url.index("/inbox/"):]
    response = client.get(path)
    assert response.status_code == 200
    assert b"".join(response.streaming_content).endswith(b"alpha-reply")
    assert "sandbox" in response["Content-Security-Policy"]


@pytest.mark.parametrize("case", ["garbage", "tampered", "other_salt", "other_business", "inbound_file"])
def test_attachment_public_refuses_forged_tokens(case, client, tenants):
    attachment = tenants.public_attachment
    if case == "garbage":
        path = reverse("inbox:attachment_public", kwargs={"token": "not-a-token"})
    elif case == "tampered":
        path = _public_url(attachment)
        path = path[:-3] + ("A" if path[-3] != "A" else "B") + path[-2:]
    elif case == "other_salt":
        path = _public_url(attachment, salt="something.else")
    elif case == "other_business":
        path = _public_url(attachment, business_id=tenants.other_business.pk)
    else:
        # A customer's file of the same business: never published, even with a valid signature.
        path = _public_url(tenants.attachment)
    assert client.get(path).status_code == 404


# --- WebSocket routes ---------------------------------------------------------------------------------------


def _websocket_paths() -> list[str]:
    from inbox.routing import websocket_urlpatterns

    paths = []
    for pattern in websocket_urlpatterns:
        assert not pattern.pattern.regex.groupindex, (
            f"WebSocket route {pattern.pattern} takes arguments: extend config/tests/test_security_sweep.py to sweep them"
        )
        paths.append("/" + str(pattern.pattern).lstrip("^").rstrip("$"))
    return paths


WEBSOCKET_PATHS = _websocket_paths()
ORIGIN = (b"origin", b"http://localhost")


def _session_cookie(user, *, business=None) -> bytes:
    client = _client_for(user, business=business)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def _connect(path: str, *, headers: list[tuple[bytes, bytes]]) -> tuple[bool, WebsocketCommunicator]:
    from config.asgi import application

    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    return connected, communicator


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", WEBSOCKET_PATHS)
async def test_websocket_refuses_anonymous_visitors(path):
    connected, communicator = await _connect(path, headers=[ORIGIN])
    assert not connected
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", WEBSOCKET_PATHS)
async def test_websocket_refuses_a_user_of_no_business(path):
    user = await sync_to_async(UserFactory)(email="nobody@example.com")
    cookie = await sync_to_async(_session_cookie)(user)
    connected, communicator = await _connect(path, headers=[ORIGIN, (b"cookie", cookie)])
    assert not connected
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", WEBSOCKET_PATHS)
async def test_websocket_refuses_a_session_naming_another_business(path):
    tenants = await sync_to_async(_tenants_light)()
    cookie = await sync_to_async(_session_cookie)(tenants["other_member"], business=tenants["business"])
    connected, communicator = await _connect(path, headers=[ORIGIN, (b"cookie", cookie)])
    assert not connected
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", WEBSOCKET_PATHS)
async def test_websocket_refuses_a_foreign_origin(path):
    tenants = await sync_to_async(_tenants_light)()
    cookie = await sync_to_async(_session_cookie)(tenants["owner"])
    connected, communicator = await _connect(path, headers=[(b"origin", b"https://evil.example"), (b"cookie", cookie)])
    assert not connected
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", WEBSOCKET_PATHS)
async def test_websocket_of_another_business_never_receives_a_pushes(path):
    from channels.layers import get_channel_layer

    from inbox.realtime import business_group

    tenants = await sync_to_async(_tenants_light)()
    owner_cookie = await sync_to_async(_session_cookie)(tenants["owner"])
    other_cookie = await sync_to_async(_session_cookie)(tenants["other_member"])
    connected, own = await _connect(path, headers=[ORIGIN, (b"cookie", owner_cookie)])
    assert connected
    connected, other = await _connect(path, headers=[ORIGIN, (b"cookie", other_cookie)])
    assert connected
    await get_channel_layer().group_send(
        business_group(tenants["business"].pk), {"type": "inbox.html", "html": "<div>alpha-secret-content-8841</div>"}
    )
    assert "alpha-secret-content-8841" in await own.receive_from(timeout=5)
    assert await other.receive_nothing(timeout=0.5)
    await own.disconnect()
    await other.disconnect()


def _tenants_light() -> dict:
    business = BusinessFactory(name="Alpha Tenant Bakery")
    owner = MembershipFactory(business=business, user__email="owner@alpha.example").user
    other_business = BusinessFactory(name="Beta Shop")
    other_member = MembershipFactory(business=other_business, user__email="owner@beta.example").user
    return {"business": business, "owner": owner, "other_business": other_business, "other_member": other_member}


# --- tokens in logs -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("GET /v25.0/me/accounts?access_token=EAAPageToken000001abcdefghij&fields=id", "EAAPageToken000001abcdefghij"),
        ("debug_token?input_token=EAAUserToken000001abcdefghij&access_token=100|secret", "EAAUserToken000001abcdefghij"),
        ("oauth/access_token?client_secret=sandbox-app-secret&code=AQBx", "sandbox-app-secret"),
        ("oauth/access_token?fb_exchange_token=EAAB12345678901234&grant_type=fb_exchange_token", "EAAB12345678901234"),
        ("token EAASabcdefghijklmnopqrstuvwxyz0123 in a message", "EAASabcdefghijklmnopqrstuvwxyz0123"),
        ('{"access_token": "EAAPageToken9"}', "EAAPageToken9"),
        ("appsecret_proof=0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef"),
    ],
)
def test_redact_removes_tokens(text, secret):
    cleaned = redact(text)
    assert secret not in cleaned
    assert find_secret(cleaned) is None


def test_redact_leaves_ordinary_text_alone():
    text = "Webhook event 42 processed in 12 ms for page 104857600123456 (EAA is a prefix)"
    assert redact(text) == text


@pytest.mark.allow_token_in_logs
def test_the_console_filter_redacts_messages_and_arguments():
    record = logging.LogRecord("social.graph", logging.INFO, __file__, 1, "Calling %s with %s",
                               ("me/accounts?access_token=EAAPageToken000001abcdefghij", {"t": "EAAUserToken1234567890"}),
                               None)
    assert RedactTokensFilter().filter(record)
    assert "EAAPageToken000001abcdefghij" not in record.getMessage()
    assert "EAAUserToken1234567890" not in record.getMessage()


@pytest.mark.allow_token_in_logs
def test_the_console_handler_redacts_a_token_in_an_exception():
    """What `logger.exception()` prints for a requests error, whose message holds the URL and its query."""
    import io

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(RedactTokensFilter())
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            raise ConnectionError("Max retries exceeded with url: /v25.0/debug_token?input_token=EAAUserToken000001xyz")
        except ConnectionError:
            logger.exception("Graph call failed")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    output = stream.getvalue()
    assert "Graph call failed" in output
    assert "EAAUserToken000001xyz" not in output, output


@pytest.mark.allow_token_in_logs
def test_the_log_guard_sees_every_logger_and_exceptions():
    from config.tests import log_guard

    log_guard.collector.take()
    log_guard.collector.active = True
    try:
        logging.getLogger("django.server").info("GET /x?access_token=EAAPageToken000001abcdefghij")
        try:
            raise ValueError("bad input_token=EAAUserToken000001abcdefghij")
        except ValueError:
            logging.getLogger("quiet.logger").error("boom", exc_info=True)
        logging.getLogger("inbox").info("Webhook event %s processed", 7)
    finally:
        log_guard.collector.active = False
    leaks = log_guard.collector.take()
    assert len(leaks) == 2, leaks
    assert any("django.server" in leak for leak in leaks)


def test_tokens_stay_out_of_str_and_repr(tenants):
    account = tenants.account
    for text in (str(account), repr(account)):
        assert "EAA" not in text
    token_user = get_user_model().objects.get(pk=tenants.owner.pk)
    assert find_secret(str(token_user)) is None


# Logging exactly as `celery -A config worker` sets it up (Celery replaces the root handlers with its own).
CELERY_LOGGING_SCRIPT = r"""
import logging
import django
django.setup()
from config.celery_app import app
app.log.setup(loglevel=logging.INFO, logfile=None, redirect_stdouts=False, colorize=False)
logging.getLogger("social.tasks").error("debug_token?input_token=EAAUserToken000001abcdefghij failed")
logging.getLogger("celery.task").warning("Bearer EAAPageToken000003abcdefghij refused")
try:
    try:
        raise ConnectionError("Max retries exceeded with url: /debug_token?input_token=EAAUserToken000002abcdefghij")
    except ConnectionError as exc:
        raise RuntimeError("Graph API unreachable") from exc
except RuntimeError:
    logging.getLogger("celery.app.trace").exception("Task social.tasks.account_token_check failed")
print("LOGGED")
"""


def test_a_celery_worker_redacts_tokens_in_its_log():
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "PYTHONPATH": str(root)}
    result = subprocess.run([sys.executable, "-c", CELERY_LOGGING_SCRIPT], cwd=root, env=env, capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stdout + result.stderr
    assert "LOGGED" in output
    assert "Task social.tasks.account_token_check failed" in output
    leaks = [line for line in output.splitlines() if find_secret(line)]
    assert not leaks, "a worker wrote tokens to its log:\n" + "\n".join(leaks)
