"""The whole Connect flow over real HTTP: allauth sign-in with Facebook, the sandbox's dialog and Graph API
on the same live server, the Page picker, reconnect, disconnect, refusals and a revoked token.

allauth fixes its Facebook URLs at import time; our provider (social/facebook_login/) reads
FACEBOOK_DIALOG_URL / FACEBOOK_GRAPH_URL per request, so the test points them at the live server's port.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from urllib.parse import urljoin

import pytest
import requests
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core import mail
from django.db import connection

from accounts.models import AuditEvent
from accounts.tests.factories import MembershipFactory
from inbox.models import WebhookEvent
from sandbox import models as sb
from sandbox import payloads
from sandbox.seed import seed
from social.graph import TokenInvalidError
from social.models import Platform, SocialAccount
from social.services import account_graph_client

BAKERY, BAKERY_IG, OTHER_SHOP, GALLERY = "104857600123456", "17841400000000000", "104857600654321", "104857600456789"
MARCO, ANNA, OLGA = "10215241773831025", "10215241773839999", "10215241773830001"
GIULIA = "7012345678901234"


class _Forms(HTMLParser):
    """The forms of a page: action, method and the fields a browser would submit."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self.open = False

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.open = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action") or "", "method": (a.get("method") or "get").lower(),
                               "fields": [], "buttons": [], "text": ""})
            self.open = True
        elif self.open and tag in ("input", "button"):
            kind = (a.get("type") or ("submit" if tag == "button" else "text")).lower()
            entry = {"name": a.get("name"), "value": a.get("value", ""), "type": kind, "checked": "checked" in a,
                     "disabled": "disabled" in a, "id": a.get("id")}
            (self.forms[-1]["buttons"] if kind == "submit" else self.forms[-1]["fields"]).append(entry)

    def handle_data(self, data: str) -> None:
        if self.open:
            self.forms[-1]["text"] += data


class Browser:
    """A requests.Session that fills in and submits forms like a browser, keeping every page it saw."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.session = requests.Session()
        self.pages: list[str] = []

    def get(self, path: str, **kwargs) -> requests.Response:
        return self._keep(self.session.get(urljoin(self.base, path), timeout=30, **kwargs))

    def _keep(self, response: requests.Response) -> requests.Response:
        self.pages.append(response.text)
        for r in response.history:
            self.pages.append(r.text)
        return response

    def submit(self, response: requests.Response, *, contains: str, set_values: dict | None = None,
               button: str | None = None, force: dict | None = None) -> requests.Response:
        """Submit the form whose text or button label contains `contains`.

        `set_values` ticks exactly these checkbox/radio values per field name (others unticked);
        `force` adds raw values a browser could not send (e.g. a disabled checkbox).
        """
        parser = _Forms()
        parser.feed(response.text)
        form = next(f for f in parser.forms if contains in f["text"] or any(
            contains in (b.get("value") or "") or contains == b.get("id") for b in f["buttons"]))
        data: list[tuple[str, str]] = []
        for field in form["fields"]:
            if not field["name"] or field["disabled"]:
                continue
            if field["type"] in ("checkbox", "radio"):
                wanted = (set_values or {}).get(field["name"])
                if (wanted is None and field["checked"]) or (wanted is not None and field["value"] in wanted):
                    data.append((field["name"], field["value"]))
            else:
                data.append((field["name"], (set_values or {}).get(field["name"], field["value"])))
        if button:
            data.append((button, "1"))
        for name, values in (force or {}).items():
            data.extend((name, v) for v in values)
        url = urljoin(response.url, form["action"]) if form["action"] else response.url
        if form["method"] == "post":
            result = self.session.post(url, data=data, timeout=30, headers={"Referer": response.url})
        else:
            result = self.session.get(url.split("?")[0], params=data, timeout=30)
        return self._keep(result)


@pytest.fixture
def live(live_server, settings, transactional_db):
    base = live_server.url
    settings.SITE_URL = base
    settings.FACEBOOK_GRAPH_URL = f"{base}/sandbox/graph/v25.0"
    settings.FACEBOOK_DIALOG_URL = f"{base}/sandbox/dialog/oauth"
    settings.SANDBOX_WEBHOOK_URL = f"{base}/webhooks/facebook/"
    assert "social.context_processors.reconnect_banner" in settings.TEMPLATES[0]["OPTIONS"]["context_processors"]
    seed()
    sb.Config.objects.update_or_create(pk=1, defaults={"send_receipts": False})
    return base


def sign_in_with_facebook(browser: Browser, fb_id: str) -> requests.Response:
    page = browser.get("/accounts/login/")
    assert "Continue with Facebook" in page.text
    dialog = browser.submit(page, contains="continue-with-facebook")
    assert "Log in to Social Inbox with Facebook" in dialog.text, dialog.text[:500]
    grant = browser.submit(dialog, contains="Continue", set_values={"user": {fb_id}})
    landed = browser.submit(grant, contains="Continue as", button="allow")
    if landed.url.endswith("/accounts/confirm-email/"):
        # Email verification is mandatory, and allauth does not take Facebook's word for the address.
        link = re.search(r"https?://\S+/accounts/confirm-email/\S+/", mail.outbox[-1].body).group(0)
        landed = browser.submit(browser.get(link), contains="Confirm")
    return landed


def connect_facebook(browser: Browser, fb_id: str, **grant) -> requests.Response:
    listing = browser.get("/social/")
    dialog = browser.submit(listing, contains="Connect Facebook")
    chooser = browser.submit(dialog, contains="Continue", set_values={"user": {fb_id}})
    return browser.submit(chooser, contains="Continue as", button="allow", **grant)


def test_connect_flow_end_to_end(live, caplog):
    caplog.set_level("DEBUG")

    # Sign up with Facebook (allauth), create the business, connect from the button.
    marco = Browser(live)
    landed = sign_in_with_facebook(marco, MARCO)
    assert landed.url.endswith("/businesses/new/"), landed.url
    assert get_user_model().objects.filter(email="marco@bakery-rossi.example").exists()
    listing = marco.submit(landed, contains="Create", set_values={"name": "Bakery Rossi"})
    # Signing in granted no Page permission: the Pages are chosen after the Connect dialog.
    assert listing.url.endswith("/social/") and "Choose the Pages to connect" not in listing.text

    picker = connect_facebook(marco, MARCO)
    assert picker.url.endswith("/social/connect/pages/") and "Rossi Catering" in picker.text
    done = marco.submit(picker, contains="Connect selected", set_values={"pages": {BAKERY}, "instagram": {BAKERY_IG}})
    assert "Connected: Bakery Rossi, Instagram @bakeryrossi" in done.text, done.text[:3000]

    page = SocialAccount.objects.get(account_id=BAKERY)
    ig = SocialAccount.objects.get(account_id=BAKERY_IG, platform=Platform.INSTAGRAM)
    assert page.status == SocialAccount.Status.ACTIVE and ig.page == page and page.business.name == "Bakery Rossi"
    assert page.followers_count == 1923 and "MESSAGING" in page.tasks and page.connected_by.email.startswith("marco")
    assert sb.Token.objects.get(token=page.access_token).page.page_id == BAKERY
    subscription = sb.Subscription.objects.get(page__page_id=BAKERY)
    assert subscription.fields == django_settings.FACEBOOK_WEBHOOK_FIELDS
    with connection.cursor() as cursor:
        cursor.execute("SELECT access_token, refresh_token FROM social_accounts WHERE id = %s", [page.pk])
        raw = " ".join(cursor.fetchone())
    assert page.access_token not in raw and page.refresh_token not in raw and raw.startswith("gAAAA")

    # Another business is refused the same Page; a Page without the MESSAGING task is explained.
    olga_user = MembershipFactory(business__name="Other Shop", user__email="olga@other-shop.example").user
    olga = Browser(live)
    login = olga.get("/accounts/login/")
    olga.submit(login, contains="Sign in", set_values={"login": olga_user.email,
                                                       "password": "correct horse battery staple"})
    picker = connect_facebook(olga, OLGA)
    assert "connected to another business" in picker.text
    done = olga.submit(picker, contains="Connect selected", set_values={"pages": {OTHER_SHOP}},
                       force={"pages": [BAKERY]})
    assert "connected to another business" in done.text and "Connected: Other Shop" in done.text
    page.refresh_from_db()
    assert page.business.name == "Bakery Rossi"
    assert SocialAccount.objects.get(account_id=OTHER_SHOP).business.name == "Other Shop"

    anna = Browser(live)
    anna.submit(anna.get("/accounts/login/"), contains="Sign in", set_values={
        "login": MembershipFactory(business__name="Verdi", user__email="anna@verdi.example").user.email,
        "password": "correct horse battery staple"})
    picker = connect_facebook(anna, ANNA)
    assert "include messaging" in picker.text
    done = anna.submit(picker, contains="Connect selected", set_values={"pages": set()}, force={"pages": [GALLERY]})
    assert "MESSAGING" in done.text and not SocialAccount.objects.filter(account_id=GALLERY).exists()

    # Meta revokes the Page's token: the next call gets 190, the account is flagged, the banner shows,
    # and webhooks for the account are still stored.
    requests.post(f"{live}/sandbox/control/tokens/invalidate", json={"page_id": BAKERY}, timeout=10)
    with pytest.raises(TokenInvalidError):
        account_graph_client(ig).user_profile(user_id="987654321098765", platform=Platform.INSTAGRAM)
    page.refresh_from_db()
    assert page.status == SocialAccount.Status.NEEDS_RECONNECT
    assert SocialAccount.objects.get(pk=ig.pk).status == SocialAccount.Status.NEEDS_RECONNECT
    banner = marco.get("/businesses/")
    assert "Bakery Rossi" in banner.text and "reconnecting" in banner.text
    assert "reconnecting" not in olga.get("/businesses/").text
    before = WebhookEvent.objects.count()
    body = payloads.encode(payloads.envelope(object_type="page", entries=[payloads.entry(
        account_id=BAKERY, events=[payloads.text_message(page_id=BAKERY, psid=GIULIA, text="Are you open?")])]))
    assert payloads.post_webhook(f"{live}/webhooks/facebook/", body, django_settings.FACEBOOK_APP_SECRET) == 200
    assert WebhookEvent.objects.count() == before + 1
    assert bytes(WebhookEvent.objects.order_by("-id").first().body) == body

    # Reconnect renews the Page in place; the banner goes away.
    requests.post(f"{live}/sandbox/control/tokens/restore", json={"page_id": BAKERY}, timeout=10)
    listing = marco.get("/social/")
    dialog = marco.submit(listing, contains="Reconnect")
    chooser = marco.submit(dialog, contains="Continue", set_values={"user": {MARCO}})
    done = marco.submit(chooser, contains="Continue as", button="allow")
    assert "Connected: Bakery Rossi" in done.text
    assert "need reconnecting" not in done.text and "needs reconnecting" not in done.text
    renewed = SocialAccount.objects.get(pk=page.pk)
    assert renewed.status == SocialAccount.Status.ACTIVE and renewed.access_token != page.access_token
    assert SocialAccount.objects.get(pk=ig.pk).status == SocialAccount.Status.ACTIVE

    # Disconnect: unsubscribed at the sandbox, tokens gone, history kept.
    done = marco.submit(marco.get("/social/"), contains="Disconnect", set_values={"confirm": {"yes"}})
    assert "is disconnected" in done.text
    gone = SocialAccount.objects.get(pk=page.pk)
    assert gone.status == SocialAccount.Status.DISCONNECTED and gone.access_token == "" and gone.refresh_token == ""
    assert not sb.Subscription.objects.filter(page__page_id=BAKERY).exists()

    # The audit log holds every Graph call the sandbox answered, and no token is anywhere.
    graph_calls = [e for e in AuditEvent.objects.filter(action="graph.call") if e.metadata.get("kind") != "download"]
    answered = list(sb.GraphCall.objects.values_list("method", "path", "status"))
    assert sorted((e.metadata["method"], e.metadata["path"], e.metadata["status"]) for e in graph_calls) == sorted(answered)
    assert {"social.account.connected", "social.account.reconnected", "social.account.disconnected",
            "social.account.needs_reconnect"} <= set(AuditEvent.objects.values_list("action", flat=True))
    sessions = json.dumps([s.get_decoded() for s in Session.objects.all()], default=str)
    audit = json.dumps(list(AuditEvent.objects.values("action", "target_id", "metadata")))
    pages = "\n".join(marco.pages + olga.pages + anna.pages)
    tokens = list(sb.Token.objects.values_list("token", flat=True))
    assert len(tokens) >= 6
    for token in tokens:
        for where, text in (("audit", audit), ("logs", caplog.text), ("html", pages), ("sessions", sessions)):
            assert token not in text, f"a token leaked into the {where}"
    assert not re.search(r"appsecret_proof=[0-9a-f]{64}", caplog.text)
