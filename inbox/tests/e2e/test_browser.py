"""The inbox in a real browser: Debian's Chromium, the Messenger sandbox, and either a live server
(daphne) forked by the test process or the production stack that `make prod` runs (stack.py).

Run alone, on PostgreSQL (+ Redis for the channel layer across processes):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test_inbox REDIS_URL=redis://127.0.0.1:6379/5 \
        .venv/bin/python -m pytest -m e2e inbox/tests/e2e -p no:cacheprovider

Against the production stack (nginx, TLS, gunicorn WSGI + ASGI workers, Celery, Redis), with the
same DATABASE_URL and REDIS_URL the stack was started with:
    PROD_SEED_DEMO=0 PROD_PORT=8443 DATABASE_URL=... REDIS_URL=... make prod &      # wait for READY
    E2E_STACK_URL=https://127.0.0.1:8443 DATABASE_URL=... REDIS_URL=... \
        .venv/bin/python -m pytest -m e2e inbox/tests/e2e

The live server process is forked once the settings point at its own (pre-chosen) port, so the Graph
client in it calls the sandbox on the same server and the sandbox posts its receipts back there.
On the stack the sandbox is its own server, reached over HTTP (`self.sandbox_url`).
Screenshots of every step, and of the list and conversation on a laptop and a phone, go to
artifacts/screenshots/.
"""

from __future__ import annotations

import re
import shutil
import socket
import tempfile
import time
from datetime import timedelta
from functools import partial
from pathlib import Path

import pytest
import requests
from channels.testing import ChannelsLiveServerTestCase
from daphne.testing import DaphneProcess
from django.conf import settings
from django.core.files.base import ContentFile
from django.test import Client, SimpleTestCase, override_settings
from django.utils import timezone

from accounts.middleware import SESSION_KEY
from accounts.tests.factories import BusinessFactory, MembershipFactory
from inbox.models import Attachment, ChatMessage, Conversation
from inbox.tests.e2e import stack
from inbox.tests.factories import AttachmentFactory, ChatMessageFactory, ContactFactory, ConversationFactory
from inbox.views.conversations import MESSAGE_PAGE_SIZE
from social.tests.factories import SocialAccountFactory

pytestmark = pytest.mark.e2e

SCREENSHOTS = Path(settings.BASE_DIR) / "artifacts" / "screenshots"
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
PAGE_A = "104857600123456"  # Bakery Rossi in the sandbox
PAGE_B = "104857600654321"  # Other Shop
MARCO = "10215241773831025"
OLGA = "10215241773830001"
PSID = "7012345678901234"  # Giulia Bianchi, a sandbox customer of Bakery Rossi
TIMEOUT = 15_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _keep_test_database() -> None:
    """The forked server already points at the test database (channels' own setup would prefix it twice)."""


class _ServerProcess(DaphneProcess):
    def __init__(self, host: str, get_application, *, setup=None, port: int) -> None:
        super().__init__(host, get_application, setup=_keep_test_database, port=port)


def _page_token(*, fb_id: str, page_id: str) -> str:
    from sandbox.graph import _page_token_for
    from sandbox.models import Page, Token
    from sandbox.testing import user_token

    return _page_token_for(Token.objects.get(token=user_token(fb_id=fb_id)), Page.objects.get(page_id=page_id)).token


class _StackTestCase(SimpleTestCase):
    """The production stack serves the pages (E2E_STACK_URL): no live server, no test database, no flush;
    each test deletes what it created (stack.py)."""

    databases = {"default"}
    live_server_url = stack.STACK_URL


class _SocketLink:
    """Stands between a page and the server's WebSocket, so a test can drop it as a network would.

    Dropping closes the page's socket abnormally (1011, which the ws extension answers by
    reconnecting with backoff) and refuses new sockets until ``restore``.
    """

    def __init__(self) -> None:
        self.online = True
        self.current = None

    def route(self, ws) -> None:
        if not self.online:
            ws.close(code=1011, reason="network down")
            return
        ws.connect_to_server()
        self.current = ws

    def drop(self) -> None:
        self.online = False
        if self.current is not None:
            self.current.close(code=1011, reason="network down")

    def restore(self) -> None:
        self.online = True


class InboxInTheBrowserTests(_StackTestCase if stack.EXTERNAL else ChannelsLiveServerTestCase):
    """The harness: a live server (or the production stack), the sandbox as Meta, two businesses with their
    staff and pages, and helpers to open a signed-in browser page. Feature tests inherit it."""

    host = "127.0.0.1"
    serve_static = True

    @classmethod
    def setUpClass(cls) -> None:
        if stack.EXTERNAL:
            cls._media_root = stack.media_root()
            cls.sandbox_url = stack.sandbox_url()
            super().setUpClass()
            return
        port = _free_port()
        base = f"http://{cls.host}:{port}"
        # Files written by the test are read by the server process: one media folder for both.
        cls._media_root = tempfile.mkdtemp(prefix="inbox-e2e-media-")
        cls._urls = override_settings(
            MEDIA_ROOT=cls._media_root,
            SITE_URL=base,
            FACEBOOK_GRAPH_URL=f"{base}/sandbox/graph/v25.0",
            SANDBOX_WEBHOOK_URL=f"{base}/webhooks/facebook/",
        )
        cls._urls.enable()
        cls.sandbox_url = base  # the sandbox is served under /sandbox/ of the live server itself
        cls.ProtocolServerProcess = partial(_ServerProcess, port=port)
        super().setUpClass()

    @classmethod
    def tearDownClass(cls) -> None:
        super().tearDownClass()
        if not stack.EXTERNAL:
            cls._urls.disable()
            shutil.rmtree(cls._media_root, ignore_errors=True)

    @pytest.fixture(autouse=True)
    def _inject(self, browser, settings) -> None:
        self.browser = browser
        settings.MEDIA_ROOT = self._media_root

    def setUp(self) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        receipts = {"send_receipts": True, "echo_delay": 0.3, "read_delay": 2.5}
        if stack.EXTERNAL:
            # The stack's database and sandbox outlive the test: unique names, a crashed run's leftovers gone.
            stack.delete_leftovers(page_ids=(PAGE_A, PAGE_B))
            self._sandbox_config = stack.sandbox_config()
            stack.sandbox_config(**receipts)
            tag = stack.run_tag()
        else:
            from sandbox.models import Config
            from sandbox.seed import seed

            seed()
            Config.objects.update_or_create(pk=1, defaults={
                "webhook_url": f"{self.live_server_url}/webhooks/facebook/", **receipts,
            })
            tag = ""
        self._session_keys: list[str] = []
        self.contexts = []
        self.business_a = BusinessFactory(name="Bakery Rossi", slug=f"{stack.SLUG_PREFIX}{tag}bakery-rossi")
        self.business_b = BusinessFactory(name="Other Shop", slug=f"{stack.SLUG_PREFIX}{tag}other-shop")
        self.staff_a = MembershipFactory(business=self.business_a, user__email=self._email("marco@bakery.example", tag),
                                         user__name="Marco Rossi").user
        self.staff_a2 = MembershipFactory(business=self.business_a, user__email=self._email("sara@bakery.example", tag),
                                          user__name="Sara").user
        # A fixed name: tests check that business A's staff names never show on B's screens.
        self.staff_b = MembershipFactory(business=self.business_b, user__email=self._email("olga@other.example", tag),
                                         user__name="Olga Berg").user
        self.page_a = SocialAccountFactory(
            business=self.business_a, account_id=PAGE_A, account_name="Bakery Rossi",
            access_token=self._page_token(fb_id=MARCO, page_id=PAGE_A),
        )
        self.page_b = SocialAccountFactory(
            business=self.business_b, account_id=PAGE_B, account_name="Other Shop",
            access_token=self._page_token(fb_id=OLGA, page_id=PAGE_B),
        )

    def tearDown(self) -> None:
        for context in self.contexts:
            context.close()
        self._wait_for_quiet_server()
        if stack.EXTERNAL:
            stack.delete_created(
                businesses=[getattr(self, name, None) for name in ("business_a", "business_b")],
                users=[getattr(self, name, None) for name in ("staff_a", "staff_a2", "staff_b")],
                session_keys=self._session_keys, page_ids=(PAGE_A, PAGE_B),
            )
            stack.sandbox_config(**{key: self._sandbox_config[key] for key in ("send_receipts", "echo_delay",
                                                                                "read_delay")})

    @staticmethod
    def _email(email: str, tag: str) -> str:
        return stack.unique_email(email, tag) if tag else email

    @staticmethod
    def _page_token(*, fb_id: str, page_id: str) -> str:
        """A sandbox page token for `fb_id`'s page: from the sandbox's own database on the live server,
        through its OAuth dialog and Graph API on the stack (its database is its own there)."""
        if stack.EXTERNAL:
            return stack.sandbox_page_token(fb_id=fb_id, page_id=page_id, app_id=str(settings.FACEBOOK_APP_ID),
                                            app_secret=settings.FACEBOOK_APP_SECRET,
                                            scopes=tuple(settings.FACEBOOK_LOGIN_SCOPES))
        return _page_token(fb_id=fb_id, page_id=page_id)

    def _wait_for_quiet_server(self) -> None:
        """Receipts the sandbox scheduled may still be on their way to the server: let them land
        before the database is flushed (or, on the stack, the test's rows deleted), or the deletion
        and their writes deadlock."""
        from inbox.models import WebhookEvent

        if stack.EXTERNAL:
            stack.sandbox_config(send_receipts=False)
        else:
            from sandbox.models import Config

            Config.objects.filter(pk=1).update(send_receipts=False)
        deadline, last, quiet_since = time.monotonic() + 8, None, time.monotonic()
        while time.monotonic() < deadline:
            count = WebhookEvent.objects.count()
            if count != last:
                last, quiet_since = count, time.monotonic()
            elif time.monotonic() - quiet_since > 1.5:
                return
            time.sleep(0.2)

    def _fixture_teardown(self) -> None:
        # A late write of the server process can still meet the flush's TRUNCATE: try again.
        for attempt in range(5):
            try:
                return super()._fixture_teardown()
            except Exception:
                if attempt == 4:
                    raise
                time.sleep(1)

    # --- helpers -------------------------------------------------------------------------------------

    def _open(self, user, business, *, path: str = "/inbox/", viewport: dict = LAPTOP, phone: bool = False,
              live: bool = True, socket_link: _SocketLink | None = None):
        client = Client()
        client.force_login(user)
        session = client.session
        session[SESSION_KEY] = business.pk
        session.save()
        self._session_keys.append(session.session_key)
        context = self.browser.new_context(
            viewport=viewport, is_mobile=phone, has_touch=phone, device_scale_factor=2 if phone else 1,
            ignore_https_errors=stack.EXTERNAL,  # the trial stack's self-signed certificate
        )
        self.contexts.append(context)
        if socket_link is not None:
            context.route_web_socket("**/ws/inbox/", socket_link.route)
        context.add_cookies([{
            "name": settings.SESSION_COOKIE_NAME, "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
            "url": self.live_server_url,
        }])
        page = context.new_page()
        page.set_default_timeout(TIMEOUT)
        page.errors, page.frames_in = [], []
        page.on("console", lambda msg: msg.type == "error" and page.errors.append(msg.text))
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: page.frames_in.append(payload)))
        page.goto(self.live_server_url + path)
        if live:
            page.wait_for_selector("body[data-ws='open']", state="attached")
        return page

    def _shot(self, page, name: str) -> None:
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))

    @staticmethod
    def _off_the_loop(function, *args, **kwargs):
        """Run a service as a worker would: in a thread of its own, since Playwright's event loop runs in
        this one and a service's push (`async_to_sync`) refuses to run inside an event loop."""
        from concurrent.futures import ThreadPoolExecutor

        from django.db import connections

        def run():
            try:
                return function(*args, **kwargs)
            finally:
                connections.close_all()

        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(run).result()

    @staticmethod
    def _wait_until(condition, message: str, *, seconds: float = TIMEOUT / 1000) -> None:
        """Poll the database (or anything) until `condition()` holds: what a server process or a worker does
        happens outside this process's view."""
        deadline = time.monotonic() + seconds
        while not condition():
            assert time.monotonic() < deadline, message
            time.sleep(0.05)

    def _customer_writes(self, text: str) -> None:
        from sandbox import payloads

        item = payloads.text_message(page_id=PAGE_A, psid=PSID, text=text)
        body = payloads.encode(
            payloads.envelope(object_type="page", entries=[payloads.entry(account_id=PAGE_A, events=[item])])
        )
        # Meta knows the customer just wrote (the reply window opens), then sends the webhook: to the
        # live server, or to the stack's proxy.
        if stack.EXTERNAL:
            stack.sandbox_customer_wrote(page_id=PAGE_A, psid=PSID)
        else:
            from sandbox.graph import customer_message_received

            customer_message_received(psid=PSID)
        status = payloads.post_webhook(f"{self.live_server_url}/webhooks/facebook/", body, settings.FACEBOOK_APP_SECRET)
        assert status == 200
        # The 200 means "stored"; applying it follows (after the answer, on the ASGI fast path).
        deadline = time.monotonic() + TIMEOUT / 1000
        while not ChatMessage.objects.filter(message_id=item["message"]["mid"]).exists():
            assert time.monotonic() < deadline, f"{text!r} was acknowledged but never applied"
            time.sleep(0.05)

    def _sent_to_sandbox(self, text: str) -> dict:
        deadline = time.monotonic() + TIMEOUT / 1000
        while time.monotonic() < deadline:
            sent = requests.get(f"{self.sandbox_url}/sandbox/control/sent.json", params={"page_id": PAGE_A},
                                timeout=5).json()["data"]
            found = [s for s in sent if (s["body"].get("message") or {}).get("text") == text]
            if found:
                return found[0]
            time.sleep(0.2)
        raise AssertionError(f"The sandbox never received {text!r}")



class ConnectingInTheBrowserTests(InboxInTheBrowserTests):
    """For tests that click Connect Facebook: it must open the dialog of this server's own sandbox (as
    `runserver` does for the port it serves), so the server gets a port chosen here and the dialog URL
    with it. On the stack its Connect Facebook already opens its sandbox's dialog. `dialog_settings`:
    more settings for the served app while the class runs."""

    dialog_settings: dict = {}

    @classmethod
    def setUpClass(cls) -> None:
        if stack.EXTERNAL:
            super().setUpClass()
            return
        global _free_port
        port = _free_port()
        cls._dialog = override_settings(
            FACEBOOK_DIALOG_URL=f"http://{cls.host}:{port}/sandbox/dialog/oauth", **cls.dialog_settings
        )
        cls._dialog.enable()
        choose_port = _free_port
        _free_port = lambda: port  # noqa: E731 - the live server's port, chosen above
        try:
            super().setUpClass()
        finally:
            _free_port = choose_port

    @classmethod
    def tearDownClass(cls) -> None:
        super().tearDownClass()
        if not stack.EXTERNAL:
            cls._dialog.disable()


@pytest.mark.e2e
class CoreLoopInTheBrowserTests(InboxInTheBrowserTests):
    """The core loop: a customer writes, staff see it live, reply, and see the receipts; triage, scrolling,
    catching up after a lost socket, and the screens on a laptop and a phone. The harness above has no
    tests of its own, so every feature's browser tests inherit it without running these again."""

    # --- the flow --------------------------------------------------------------------------------------

    def test_live_inbox_reply_and_receipts(self) -> None:
        from playwright.sync_api import expect

        marco = self._open(self.staff_a, self.business_a)
        sara = self._open(self.staff_a2, self.business_a)
        olga = self._open(self.staff_b, self.business_b)
        self._shot(marco, "01-inbox-empty")

        # A customer writes: the signed webhook is processed and every open page of the business shows it.
        self._customer_writes("Ciao! Is the torta della nonna ready for Saturday?")
        row = marco.locator("#conversation-list > li", has_text="torta della nonna")
        expect(row).to_be_visible()
        expect(row.locator(".unread-badge")).to_have_text(re.compile(r"^\s*1"))
        sara_row = sara.locator("#conversation-list > li", has_text="torta della nonna")
        expect(sara_row.locator(".unread-badge")).to_be_visible()
        expect(marco.locator("#unread-total")).to_have_text(re.compile(r"^\s*1"))
        self._shot(marco, "02-message-arrived-live")
        conversation = Conversation.objects.get(business=self.business_a)

        # Marco opens it: it is read, and Sara's badge clears without a reload.
        row.locator("a").click()
        expect(marco.locator(f"#messages-{conversation.pk}")).to_contain_text("torta della nonna")
        expect(marco).to_have_url(re.compile(rf"/inbox/c/{conversation.public_id}/$"))
        # Through the stack's live path (web → Redis → ASGI worker → Sara's socket), with three browsers and
        # every server on two cores: seconds at worst, but more than the 5 s default once in a CI run.
        expect(sara_row.locator(".unread-badge")).to_have_count(0, timeout=15_000)
        expect(sara.locator("#unread-total")).to_be_hidden()
        self._shot(marco, "03-conversation-open")
        self._shot(sara, "04-second-staff-badge-cleared")

        # A second message arrives while the conversation is open: it is appended in place.
        self._customer_writes("And do you have it without nuts?")
        expect(marco.locator(f"#messages-{conversation.pk}")).to_contain_text("without nuts")

        # Marco replies: the sandbox gets the Send API call, then the echo, delivery and read come back.
        composer = marco.locator(f"#reply-text-{conversation.pk}")
        composer.fill("Yes! It is ready at 4pm, and we can make one without nuts.")
        composer.press("Enter")
        reply = marco.locator("article.msg-outbound", has_text="ready at 4pm")
        expect(reply).to_be_visible()
        expect(composer).to_have_value("")
        sent = self._sent_to_sandbox("Yes! It is ready at 4pm, and we can make one without nuts.")
        stored = ChatMessage.objects.get(conversation=conversation, direction="outbound")
        assert sent["body"]["messaging_type"] == "RESPONSE"
        assert sent["body"]["message"]["metadata"] == stored.client_token
        expect(reply.locator(".tick-delivered")).to_be_visible()
        self._shot(marco, "05-reply-delivered")
        expect(reply.locator(".tick-read")).to_be_visible()
        self._shot(marco, "06-reply-read")
        stored.refresh_from_db()
        assert stored.status == "read" and stored.message_id == sent["message_id"]
        assert ChatMessage.objects.filter(conversation=conversation, direction="outbound").count() == 1
        assert not ChatMessage.objects.filter(conversation=conversation, direction="inbound", is_replied=False).exists()
        expect(sara.locator(f"#conversation-{conversation.pk} .conv-preview")).to_contain_text("ready at 4pm")

        # Business B saw none of it, and its socket received nothing at all.
        assert olga.locator("#conversation-list > li").count() == 0
        assert "torta" not in olga.content()
        assert olga.frames_in == []
        self._shot(olga, "07-other-business-sees-nothing")

        for page in (marco, sara, olga):
            assert page.errors == [], page.errors

    def test_triage_is_live_for_other_staff(self) -> None:
        from playwright.sync_api import expect

        conversation = ConversationFactory(
            contact=ContactFactory(account=self.page_a, name="Luca Neri"), last_message_preview="Hello",
        )
        ChatMessageFactory(conversation=conversation, content="Hello", is_read=True)
        marco = self._open(self.staff_a, self.business_a, path=f"/inbox/c/{conversation.public_id}/")
        sara = self._open(self.staff_a2, self.business_a)
        sara_row = sara.locator(f"#conversation-{conversation.pk}")
        expect(sara_row).to_be_visible()

        marco.select_option(f"#priority-{conversation.pk}", "urgent")
        expect(sara_row.locator(".chip-priority")).to_have_text(re.compile("Urgent"))
        marco.get_by_role("button", name="Resolve").click()
        expect(sara_row).to_have_count(0)  # Sara's list shows open conversations only
        expect(marco.locator(f"#conversation-header-{conversation.pk}")).to_contain_text("Resolved")
        conversation.refresh_from_db()
        assert (conversation.status, conversation.priority) == ("resolved", "urgent")
        assert marco.errors == [] and sara.errors == []

    def test_scrolling_loads_older_rows_and_messages(self) -> None:
        from playwright.sync_api import expect

        now = timezone.now()
        for i in range(settings.INBOX_PAGE_SIZE + 5):
            ConversationFactory(contact=ContactFactory(account=self.page_a, name=f"Customer {i:02d}"),
                                last_message_at=now - timedelta(minutes=i), last_message_preview=f"Message {i}")
        long = Conversation.objects.get(contact__name="Customer 00")
        for i in range(MESSAGE_PAGE_SIZE + 10):
            ChatMessageFactory(conversation=long, content=f"Line {i:02d}", is_read=True,
                               timestamp=now - timedelta(minutes=200 - i))
        page = self._open(self.staff_a, self.business_a)
        rows = page.locator("#conversation-list > li[data-live='row']")
        expect(rows).to_have_count(settings.INBOX_PAGE_SIZE)
        page.locator("#conversation-list > li[data-live='row']").last.scroll_into_view_if_needed()
        expect(rows).to_have_count(settings.INBOX_PAGE_SIZE + 5)
        expect(page.locator("#conversation-list")).to_contain_text("Customer 54")

        page.locator(f"#conversation-{long.pk} a").click()
        messages = page.locator(f"#messages-{long.pk} > [data-live='message']")
        expect(messages).to_have_count(MESSAGE_PAGE_SIZE)
        expect(page.locator(f"#messages-{long.pk}")).to_contain_text(f"Line {MESSAGE_PAGE_SIZE + 9}")
        page.locator(f"#messages-{long.pk} > [data-live='message']").first.scroll_into_view_if_needed()
        expect(messages).to_have_count(MESSAGE_PAGE_SIZE + 10)
        expect(page.locator(".history-start")).to_have_text("Start of the conversation")
        texts = messages.all_inner_texts()
        assert [t for t in texts if t.startswith("Line")] == sorted(t for t in texts if t.startswith("Line"))
        assert page.errors == [], page.errors

    def test_a_page_that_lost_its_socket_catches_up(self) -> None:
        from playwright.sync_api import expect

        self._customer_writes("First message")
        conversation = Conversation.objects.get(business=self.business_a)
        link = _SocketLink()
        page = self._open(self.staff_a, self.business_a, path=f"/inbox/c/{conversation.public_id}/", socket_link=link)
        # A second member's page stays online: once it shows the message, any push has been sent.
        control = self._open(self.staff_a2, self.business_a, path=f"/inbox/c/{conversation.public_id}/")
        expect(page.locator(f"#messages-{conversation.pk}")).to_contain_text("First message")
        # The network drops the socket (Chromium's offline emulation leaves open sockets up).
        link.drop()
        page.wait_for_selector("body[data-ws='closed']", state="attached")
        expect(page.locator(".live-status")).to_contain_text("Reconnecting")
        self._customer_writes("Written while you were offline")
        expect(control.locator(f"#messages-{conversation.pk}")).to_contain_text("Written while you were offline")
        assert "while you were offline" not in page.locator(f"#messages-{conversation.pk}").inner_text()
        link.restore()
        page.wait_for_selector("body[data-ws='open']", state="attached")
        expect(page.locator(f"#messages-{conversation.pk}")).to_contain_text("Written while you were offline")
        expect(page.locator(".live-status")).to_be_hidden()
        assert page.locator(f"#messages-{conversation.pk} > [data-live='message']").count() == 2
        # The socket failing while offline is logged by htmx's ws extension (an Event object); nothing else.
        page.errors[:] = [e for e in page.errors if e != "[object Event]" and "ERR_INTERNET_DISCONNECTED" not in e
                          and "WebSocket" not in e]
        assert page.errors == [], page.errors

    def test_screens_on_a_laptop_and_a_phone(self) -> None:
        from playwright.sync_api import expect

        main = self._design_data()
        for name, viewport, phone in (("laptop", LAPTOP, False), ("phone", PHONE, True)):
            page = self._open(self.staff_a, self.business_a, viewport=viewport, phone=phone)
            expect(page.locator("#conversation-list > li").first).to_be_visible()
            self._shot(page, f"{name}-list")
            page.goto(f"{self.live_server_url}/inbox/c/{main.public_id}/")
            page.wait_for_selector("body[data-ws='open']", state="attached")
            expect(page.locator(f"#messages-{main.pk}")).to_contain_text("See you on Saturday")
            self._shot(page, f"{name}-conversation")
            if phone:
                # One column on a phone: the conversation replaces the list, and Back returns to it.
                expect(page.locator(".inbox-list")).to_be_hidden()
                page.locator("[data-back]").click()
                expect(page.locator("#conversation-list")).to_be_visible()
            else:
                expect(page.locator(".inbox-list")).to_be_visible()
            assert page.errors == [], page.errors
        locked = Conversation.objects.get(contact__name="Paolo Conti")
        page = self._open(self.staff_a, self.business_a, path=f"/inbox/c/{locked.public_id}/")
        expect(page.locator(".composer-lock")).to_contain_text("24 hours")
        self._shot(page, "laptop-conversation-locked")
        tablet = self._open(self.staff_a, self.business_a, path=f"/inbox/c/{main.public_id}/",
                            viewport={"width": 900, "height": 1100})
        expect(tablet.locator(".inbox-list")).to_be_visible()
        self._shot(tablet, "tablet-conversation")
        for name, viewport, phone in (("laptop", LAPTOP, False), ("phone", PHONE, True)):
            page = self._open(self.staff_a, self.business_a, path="/inbox/dashboard/", viewport=viewport, phone=phone,
                              live=False)
            expect(page.locator("table")).to_contain_text("Bakery Rossi")
            self._shot(page, f"{name}-dashboard")
            for other in ("/team/", "/social/"):
                page.goto(self.live_server_url + other)
                self._shot(page, f"{name}-{other.strip('/')}")
            assert page.errors == [], page.errors

    def _design_data(self) -> Conversation:
        now = timezone.now()
        people = [("Elena Greco", 3, "urgent", "Can I change my order to 12 cupcakes?"),
                  ("Tom Baker", 0, "none", "Thanks, see you then!"),
                  ("Sofia Russo", 1, "high", "Do you deliver to Trastevere?"),
                  ("Marta Bakes", 0, "low", "Loved the cannoli \U0001f60d"),
                  ("Paolo Conti", 0, "none", "Is the shop open on Sunday?")]
        for i, (name, unread, priority, text) in enumerate(people):
            contact = ContactFactory(account=self.page_a, name=name)
            inbound_at = now - (timedelta(days=3) if name == "Paolo Conti" else timedelta(minutes=20 * (i + 1)))
            conversation = ConversationFactory(
                contact=contact, unread_count=unread, priority=priority, last_message_preview=text,
                last_message_at=inbound_at, last_inbound_at=inbound_at,
            )
            ChatMessageFactory(conversation=conversation, content=text, timestamp=inbound_at, is_read=not unread)
        contact = ContactFactory(account=self.page_a, name="Giulia Bianchi")
        main = ConversationFactory(contact=contact, last_message_at=now, last_inbound_at=now - timedelta(minutes=2),
                                   last_message_preview="See you on Saturday", last_message_direction="outbound")
        script = [
            ("inbound", "Ciao! Do you make birthday cakes?", {}),
            ("outbound", "We do! What would you like?", {"status": "read"}),
            ("inbound", "", {"photo": True}),
            ("inbound", "Something like this, for 12 people.", {}),
            ("outbound", "That is our torta della nonna, €38 for 12.", {"status": "read", "source": "meta"}),
            ("inbound", "Perfect. Can I pick it up Saturday morning?", {"reaction": "\u2764\ufe0f"}),
            ("outbound", "Saturday at 10 works.", {"status": "failed", "error": "(#1200) Temporary send message failure",
                                                   "error_code": 1200}),
            ("outbound", "Saturday at 10 works. See you on Saturday!", {"status": "delivered"}),
        ]
        for i, (direction, text, extra) in enumerate(script):
            message = ChatMessageFactory(
                conversation=main, direction=direction, content=text, is_read=True,
                timestamp=now - timedelta(minutes=len(script) - i),
                source=extra.get("source", "inbox" if direction == "outbound" else "customer"),
                status=extra.get("status", "received"), sent_by=self.staff_a if direction == "outbound" else None,
                message_id=None if extra.get("status") == "failed" else f"m_design_{i}",
                error=extra.get("error", ""), error_code=extra.get("error_code"), reaction=extra.get("reaction", ""),
            )
            if extra.get("photo"):
                attachment = AttachmentFactory(message=message, type="image", state=Attachment.State.STORED,
                                               mime_type="image/png", name="cake.png", position=0)
                attachment.file.save("cake.png", ContentFile(_cake_png()), save=True)
        ChatMessageFactory(conversation=main, kind="postback", content="Order a cake", is_read=True,
                           timestamp=now - timedelta(minutes=len(script) + 1))
        return main


def _cake_png() -> bytes:
    """A small warm-coloured PNG, so the photo bubble looks like a photo in the screenshots."""
    import struct
    import zlib

    width, height = 240, 160
    rows = b"".join(
        b"\x00" + b"".join(bytes((230 - y // 3, 170 + x // 8 - y // 6, 120 + x // 10)) for x in range(width))
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
