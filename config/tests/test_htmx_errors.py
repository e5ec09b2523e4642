"""A failed htmx request gets a notice fragment with HX-Reswap: none, never a page (config/htmx_errors.py)."""

from __future__ import annotations

import json
import re
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from accounts.middleware import SESSION_KEY
from accounts.tests.factories import MembershipFactory, UserFactory
from config.htmx_errors import BUSINESS_HEADER, NOTICE_HEADER
from inbox.models import ChatMessage
from inbox.tests.factories import ContactFactory, ConversationFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def _htmx(current_url: str = "", target: str = "", business=None) -> dict[str, str]:
    headers = dict(HTMX)
    if current_url:
        headers["HTTP_HX_CURRENT_URL"] = current_url
    if target:
        headers["HTTP_HX_TARGET"] = target
    if business is not None:
        headers["HTTP_" + BUSINESS_HEADER.upper().replace("-", "_")] = str(business.pk)
    return headers


def _assert_notice(response, *, status: int, kind: str) -> str:
    assert response.status_code == status
    assert response[NOTICE_HEADER] == kind
    assert response["HX-Reswap"] == "none"
    assert response["Cache-Control"] == "no-store"
    html = response.content.decode()
    assert f'data-notice="{kind}"' in html
    # A fragment, never a page: no document, no login form, no debug page.
    assert "<html" not in html.lower() and "<form" not in html and "<body" not in html
    return html


def _sign_in_next(html: str) -> str:
    href = html.split('class="button notice-action" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    url = urlsplit(href)
    assert url.path == reverse("account_login")
    return parse_qs(url.query)["next"][0]


@pytest.fixture
def conversation(page):
    return ConversationFactory(contact=ContactFactory(account=page, name="Giulia Bianchi"))


# --- an ended session ---------------------------------------------------------------------------------------


def test_reply_after_the_session_ended_is_a_sign_in_notice_not_the_login_form(client, conversation):
    detail = reverse("inbox:conversation_detail", args=[conversation.public_id])
    response = client.post(
        reverse("inbox:reply", args=[conversation.public_id]), {"text": "Ready at 4pm"},
        **_htmx(current_url=f"http://testserver{detail}"),
    )
    html = _assert_notice(response, status=401, kind="signed_out")
    assert "You were signed out" in html and "anything you typed is kept" in html
    # The link signs in and returns to the conversation (not to the reply URL, which is POST-only).
    assert _sign_in_next(html) == detail
    assert "password" not in html.lower()
    assert not ChatMessage.objects.exists()


def test_opening_a_conversation_after_the_session_ended_returns_to_it_after_sign_in(client, conversation):
    detail = reverse("inbox:conversation_detail", args=[conversation.public_id])
    response = client.get(detail, **_htmx(current_url="http://testserver/inbox/", target="conversation-pane"))
    html = _assert_notice(response, status=401, kind="signed_out")
    assert _sign_in_next(html) == detail
    assert "Giulia" not in html


def test_a_fragment_request_after_the_session_ended_returns_to_the_page_it_came_from(client, conversation):
    detail = reverse("inbox:conversation_detail", args=[conversation.public_id])
    response = client.get(
        reverse("inbox:message_list", args=[conversation.public_id]) + "?before=123.4",
        **_htmx(current_url=f"http://testserver{detail}?x=1"),
    )
    assert _sign_in_next(_assert_notice(response, status=401, kind="signed_out")) == f"{detail}?x=1"


@pytest.mark.parametrize("current_url", ["https://evil.example//evil.example/x", "javascript:alert(1)", ""])
def test_the_sign_in_link_never_leaves_the_site(client, conversation, current_url):
    response = client.post(reverse("inbox:conversation_resolve", args=[conversation.public_id]), **_htmx(current_url))
    assert _sign_in_next(_assert_notice(response, status=401, kind="signed_out")) == reverse("inbox:conversation_list")


def test_non_htmx_requests_still_redirect_to_the_login_page(client, conversation):
    response = client.post(reverse("inbox:reply", args=[conversation.public_id]), {"text": "Hi"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login") + "?next=")
    assert not response.has_header(NOTICE_HEADER)


def test_a_history_restore_gets_the_page_as_a_navigation_would(client, conversation):
    response = client.get(
        reverse("inbox:conversation_detail", args=[conversation.public_id]), HTTP_HX_HISTORY_RESTORE_REQUEST="true", **HTMX
    )
    assert response.status_code == 302
    assert not response.has_header(NOTICE_HEADER)


# --- a lost membership, a switched business ----------------------------------------------------------


def test_a_tab_left_on_another_business_changes_nothing_and_says_so(client, member, business, conversation):
    other = MembershipFactory(user=member, business__name="Other Shop").business
    client.force_login(member)
    session = client.session
    session[SESSION_KEY] = other.pk  # switched in another tab
    session.save()
    response = client.post(
        reverse("inbox:conversation_resolve", args=[conversation.public_id]), **_htmx(business=business)
    )
    html = _assert_notice(response, status=409, kind="switched")
    assert "You switched to Other Shop in another tab" in html and "still shows Bakery Rossi" in html
    conversation.refresh_from_db()
    assert conversation.status == "open"
    # A list request from that tab would have mixed Other Shop's rows into Bakery Rossi's page.
    listing = client.get(reverse("inbox:conversation_list"), **_htmx(business=business, target="list-column"))
    _assert_notice(listing, status=409, kind="switched")


def test_a_member_removed_from_the_business_gets_a_no_access_notice(client, business, conversation):
    user = MembershipFactory(business__name="Their Own Shop").user
    client.force_login(user)
    response = client.get(
        reverse("inbox:conversation_detail", args=[conversation.public_id]), **_htmx(business=business)
    )
    html = _assert_notice(response, status=403, kind="no_access")
    assert business.name not in html  # the header is the client's word: never name that business
    assert reverse("accounts:business_list") in html


def test_a_user_without_any_business_gets_a_notice_not_the_create_business_form(client, conversation):
    client.force_login(UserFactory())
    response = client.get(reverse("inbox:conversation_detail", args=[conversation.public_id]), **HTMX)
    _assert_notice(response, status=403, kind="no_access")


def test_pages_tell_htmx_which_business_they_show(client_member, business):
    html = client_member.get(reverse("inbox:conversation_list")).content.decode()
    headers = re.search(r"<body hx-headers='([^']*)'", html).group(1)
    assert json.loads(headers)[BUSINESS_HEADER] == str(business.pk)
    assert 'id="notice-area"' in html


def test_the_page_of_the_current_business_passes(client_member, business, conversation):
    response = client_member.post(
        reverse("inbox:conversation_resolve", args=[conversation.public_id]), **_htmx(business=business)
    )
    assert response.status_code == 200
    assert not response.has_header(NOTICE_HEADER)
    conversation.refresh_from_db()
    assert conversation.status == "resolved"


def test_a_stale_csrf_token_is_an_out_of_date_notice(member, conversation):
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    response = client.post(
        reverse("inbox:conversation_resolve", args=[conversation.public_id]), HTTP_X_CSRFTOKEN="stale" * 6, **HTMX
    )
    _assert_notice(response, status=403, kind="stale")
    conversation.refresh_from_db()
    assert conversation.status == "open"


# --- 404 and 5xx ------------------------------------------------------------------------------------


def test_htmx_404_with_debug_is_the_notice_not_the_debug_page(client_other, settings, conversation):
    settings.DEBUG = True
    response = client_other.get(
        reverse("inbox:conversation_detail", args=[conversation.public_id]), **_htmx(target="conversation-pane")
    )
    html = _assert_notice(response, status=404, kind="not_found")
    assert "URLconf" not in html and "No such conversation" not in html and "Giulia" not in html


def test_htmx_reply_to_a_conversation_of_another_business_is_a_notice(client_other, conversation):
    response = client_other.post(reverse("inbox:reply", args=[conversation.public_id]), {"text": "x"}, **HTMX)
    _assert_notice(response, status=404, kind="not_found")
    assert not ChatMessage.objects.exists()


def test_an_unknown_url_for_htmx_is_the_notice(client_member, settings):
    settings.DEBUG = True
    _assert_notice(client_member.get("/inbox/nowhere/", **HTMX), status=404, kind="not_found")


def test_non_htmx_404_is_unchanged(client_other, settings, conversation):
    settings.DEBUG = True
    response = client_other.get(reverse("inbox:conversation_detail", args=[conversation.public_id]))
    assert response.status_code == 404
    assert not response.has_header(NOTICE_HEADER)
    assert "No such conversation" in response.content.decode()  # the debug page, as before


@pytest.mark.parametrize("debug", [False, True])
def test_htmx_server_error_is_the_notice_without_a_traceback(member, settings, debug):
    settings.DEBUG = debug
    client = Client(raise_request_exception=False)
    client.force_login(member)
    with mock.patch("inbox.views.conversations.selectors.conversation_list", side_effect=RuntimeError("boom secret")):
        response = client.get(reverse("inbox:conversation_list"), **_htmx(target="list-column"))
    html = _assert_notice(response, status=500, kind="error")
    assert "boom" not in html and "Traceback" not in html


def test_a_notice_that_cannot_be_rendered_is_still_a_notice(client, conversation):
    with mock.patch("config.htmx_errors.render_to_string", side_effect=RuntimeError("template gone")):
        response = client.post(reverse("inbox:reply", args=[conversation.public_id]), {"text": "Hi"}, **HTMX)
    assert response.status_code == 401
    assert response[NOTICE_HEADER] == "signed_out" and response["HX-Reswap"] == "none"
    assert response.content == b""


def test_deliberate_htmx_refusals_are_left_to_the_view(client_member, page):
    conversation = ConversationFactory(contact=ContactFactory(account=page))
    response = client_member.post(reverse("inbox:conversation_priority", args=[conversation.public_id]), {"priority": "x"},
                                  **HTMX)
    assert response.status_code == 400
    assert not response.has_header(NOTICE_HEADER)
    empty = client_member.post(reverse("inbox:reply", args=[conversation.public_id]), {"text": " "}, **HTMX)
    assert empty.status_code == 422 and not empty.has_header(NOTICE_HEADER)
