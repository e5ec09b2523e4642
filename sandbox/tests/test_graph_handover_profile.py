"""The sandbox answers the Handover Protocol and the Messenger Profile API like Meta: shapes, errors,
refused sends while another app owns a thread, standby deliveries and the other apps' webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json
from unittest import mock

import pytest
from django.conf import settings
from django.test import Client

from sandbox import models as sb
from sandbox.graph_handover import PAGE_INBOX_APP_ID, owner_of
from sandbox.seed import seed

pytestmark = pytest.mark.django_db

GRAPH = "/sandbox/graph/v25.0"
BAKERY, GIULIA, MARCO = "104857600123456", "7012345678901234", "10215241773831025"


@pytest.fixture(autouse=True)
def _seeded(db):
    seed()
    sb.Config.objects.update_or_create(pk=1, defaults={"send_receipts": False})


@pytest.fixture
def token() -> str:
    page = sb.Page.objects.get(page_id=BAKERY)
    return sb.Token.objects.create(
        token=sb.new_token(), kind=sb.Token.Kind.PAGE, user=sb.FacebookUser.objects.get(fb_id=MARCO), page=page,
        scopes=list(settings.FACEBOOK_LOGIN_SCOPES),
    ).token


def call(client: Client, method: str, path: str, token: str, *, params: dict | None = None, body: dict | None = None):
    proof = hmac.new(settings.FACEBOOK_APP_SECRET.encode(), token.encode(), hashlib.sha256).hexdigest()
    query = "&".join(f"{k}={v}" for k, v in {**(params or {}), "appsecret_proof": proof}.items())
    url = f"{GRAPH}/{path}?{query}"
    extra = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    if body is not None:
        return client.generic(method, url, json.dumps(body), content_type="application/json", **extra)
    return client.generic(method, url, **extra)


def error(response) -> tuple[int, int | None, str]:
    body = response.json()["error"]
    return body["code"], body.get("error_subcode"), body["message"]


def ours() -> str:
    return str(settings.FACEBOOK_APP_ID)


# --- handover ------------------------------------------------------------------------------------------


def test_thread_owner_is_the_primary_receiver_until_someone_takes_it(client, token):
    response = call(client, "GET", f"{BAKERY}/thread_owner", token, params={"recipient": GIULIA})
    assert response.json() == {"data": [{"thread_owner": {"app_id": ours()}}]}

    sb.ThreadControl.objects.create(page=sb.Page.objects.get(page_id=BAKERY), psid=GIULIA, owner_app_id=PAGE_INBOX_APP_ID)
    response = call(client, "GET", f"{BAKERY}/thread_owner", token, params={"recipient": GIULIA})
    assert response.json() == {"data": [{"thread_owner": {"app_id": PAGE_INBOX_APP_ID}}]}


def test_thread_owner_needs_a_known_recipient(client, token):
    assert error(call(client, "GET", f"{BAKERY}/thread_owner", token)) == (
        100, None, "(#100) The parameter recipient is required")
    assert error(call(client, "GET", f"{BAKERY}/thread_owner", token, params={"recipient": "123"}))[:2] == (100, 2018001)


def test_pass_then_take_back(client, token):
    page = sb.Page.objects.get(page_id=BAKERY)
    body = {"recipient": {"id": GIULIA}, "target_app_id": PAGE_INBOX_APP_ID, "metadata": "over to you"}
    assert call(client, "POST", f"{BAKERY}/pass_thread_control", token, body=body).json() == {"success": True}
    assert owner_of(page, GIULIA) == PAGE_INBOX_APP_ID

    refused = call(client, "POST", f"{BAKERY}/pass_thread_control", token, body=body)
    assert refused.status_code == 400
    assert error(refused) == (100, None, "(#100) calling app is not the thread owner")

    taken = call(client, "POST", f"{BAKERY}/take_thread_control", token, body={"recipient": {"id": GIULIA}})
    assert taken.json() == {"success": True}
    assert owner_of(page, GIULIA) == ours()


@pytest.mark.parametrize("body", [
    {"recipient": {"id": GIULIA}},
    {"recipient": {"id": GIULIA}, "target_app_id": "not-an-app"},
    {"recipient": {"id": GIULIA}, "target_app_id": "100000000000001"},
])
def test_pass_needs_another_apps_id(client, token, body):
    body = {**body, "target_app_id": ours()} if body.get("target_app_id") == "100000000000001" else body
    assert error(call(client, "POST", f"{BAKERY}/pass_thread_control", token, body=body))[0] == 100


def test_a_message_is_refused_while_another_app_owns_the_thread(client, token):
    sb.ThreadControl.objects.create(page=sb.Page.objects.get(page_id=BAKERY), psid=GIULIA, owner_app_id=PAGE_INBOX_APP_ID)
    send = {"recipient": {"id": GIULIA}, "messaging_type": "RESPONSE", "message": {"text": "Hello"}}

    response = call(client, "POST", f"{BAKERY}/messages", token, body=send)

    assert response.status_code == 400
    assert error(response) == (10, 2018300,
                               "(#10) Message failed to send because another app is controlling this thread now.")
    assert not sb.SentMessage.objects.exists()


def test_a_customer_message_arrives_as_standby_while_another_app_owns_the_thread(client):
    sb.ThreadControl.objects.create(page=sb.Page.objects.get(page_id=BAKERY), psid=GIULIA, owner_app_id=PAGE_INBOX_APP_ID)
    with mock.patch("sandbox.payloads.post_webhook", return_value=200) as post:
        response = client.post("/sandbox/control/message", data=json.dumps({"page_id": BAKERY, "text": "Hi"}),
                               content_type="application/json")
    assert response.status_code == 200 and response.json()["psid"] == GIULIA
    entry = json.loads(post.call_args[0][1])["entry"][0]
    assert "messaging" not in entry and entry["standby"][0]["message"]["text"] == "Hi"


def test_page_inbox_taking_a_thread_sends_us_take_thread_control(client):
    with mock.patch("sandbox.payloads.post_webhook", return_value=200) as post:
        response = client.post("/sandbox/control/thread", data=json.dumps({"page_id": BAKERY, "psid": GIULIA}),
                               content_type="application/json")
    assert response.json()["webhook"] == "take_thread_control"
    item = json.loads(post.call_args[0][1])["entry"][0]["messaging"][0]
    assert item["take_thread_control"]["previous_owner_app_id"] == ours()
    assert item["take_thread_control"]["new_owner_app_id"] == PAGE_INBOX_APP_ID

    with mock.patch("sandbox.payloads.post_webhook", return_value=200) as post:
        client.post("/sandbox/control/thread", data=json.dumps({"page_id": BAKERY, "psid": GIULIA,
                                                                "owner_app_id": ours()}),
                    content_type="application/json")
    item = json.loads(post.call_args[0][1])["entry"][0]["messaging"][0]
    assert item["pass_thread_control"] == {"previous_owner_app_id": PAGE_INBOX_APP_ID, "new_owner_app_id": ours(),
                                           "metadata": ""}


def test_control_thread_refuses_bad_input(client):
    response = client.post("/sandbox/control/thread", data=json.dumps({"page_id": BAKERY, "psid": "nobody"}),
                           content_type="application/json")
    assert response.status_code == 400 and "customer" in response.json()["error"]


# --- messenger profile --------------------------------------------------------------------------------


def test_profile_set_read_and_delete(client, token):
    properties = {
        "greeting": [{"locale": "default", "text": "Hello!"}],
        "ice_breakers": [{"call_to_actions": [{"question": "Open?", "payload": "HOURS"}], "locale": "default"}],
        "get_started": {"payload": "GET_STARTED"},
        "persistent_menu": [{"locale": "default", "composer_input_disabled": False, "call_to_actions": [
            {"type": "web_url", "title": "Shop", "url": "https://bakery.example"}]}],
    }
    empty = call(client, "GET", f"{BAKERY}/messenger_profile", token, params={"fields": "greeting"})
    assert empty.json() == {"data": []}
    assert call(client, "POST", f"{BAKERY}/messenger_profile", token, body=properties).json() == {"result": "success"}

    read = call(client, "GET", f"{BAKERY}/messenger_profile", token,
                params={"fields": "greeting,ice_breakers,persistent_menu"})
    assert read.json() == {"data": [{k: properties[k] for k in ("greeting", "ice_breakers", "persistent_menu")}]}

    deleted = call(client, "DELETE", f"{BAKERY}/messenger_profile", token, body={"fields": ["greeting"]})
    assert deleted.json() == {"result": "success"}
    read = call(client, "GET", f"{BAKERY}/messenger_profile", token, params={"fields": "greeting"})
    assert read.json() == {"data": []}


@pytest.mark.parametrize(("properties", "needle"), [
    ({"greeting": [{"locale": "default", "text": "x" * 161}]}, "at most 160 characters"),
    ({"greeting": [{"locale": "en_US", "text": "Hi"}]}, "default locale"),
    ({"ice_breakers": [{"locale": "default", "call_to_actions": [
        {"question": f"Q{n}", "payload": f"P{n}"} for n in range(5)]}]}, "at most 4 items"),
    ({"get_started": {"payload": "GS"}, "persistent_menu": [{"locale": "default", "call_to_actions": [
        {"type": "web_url", "title": "Shop", "url": "ftp://bakery.example"}]}]}, "must be a valid URL"),
    ({"persistent_menu": [{"locale": "default", "call_to_actions": [
        {"type": "postback", "title": "Talk", "payload": "T"}]}]}, "Get Started button"),
    ({"unknown": 1}, "Requires one of the params"),
])
def test_profile_errors_are_metas(client, token, properties, needle):
    response = call(client, "POST", f"{BAKERY}/messenger_profile", token, body=properties)
    assert response.status_code == 400
    code, _, message = error(response)
    assert code == 100 and message.startswith("(#100)") and needle in message


def test_profile_read_needs_fields(client, token):
    assert error(call(client, "GET", f"{BAKERY}/messenger_profile", token))[2] == "(#100) The parameter fields is required"
