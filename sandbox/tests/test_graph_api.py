"""The sandbox answers like Meta: the dialog, OAuth, Graph reads, subscriptions, the Send API, errors, control."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from sandbox import models as sb
from sandbox import payloads
from sandbox.seed import seed

pytestmark = pytest.mark.django_db

GRAPH = "/sandbox/graph/v25.0"
APP_ID, SECRET = "100000000000001", "sandbox-app-secret"
BAKERY, BAKERY_IG, MARCO = "104857600123456", "17841400000000000", "10215241773831025"
GIULIA, GIULIA_IG = "7012345678901234", "987654321098765"


@pytest.fixture(autouse=True)
def _seeded(db):
    seed()
    sb.Config.objects.update_or_create(pk=1, defaults={"send_receipts": False})


def proof(token: str) -> str:
    return hmac.new(SECRET.encode(), token.encode(), hashlib.sha256).hexdigest()


def call(client: Client, method: str, path: str, token: str = "", *, params: dict | None = None,
         body: dict | None = None, with_proof: bool = True):
    params = dict(params or {})
    if token and with_proof:
        params["appsecret_proof"] = proof(token)
    query = "&".join(f"{k}={v}" for k, v in params.items())
    extra = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    url = f"{GRAPH}/{path}" + (f"?{query}" if query else "")
    if body is not None:
        return client.generic(method, url, json.dumps(body), content_type="application/json", **extra)
    return client.generic(method, url, **extra)


def login_code(client: Client, *, fb_id: str = MARCO, pages: list[str] | None = None, scopes: list[str] | None = None,
               redirect_uri: str = "https://app.test/callback/") -> str:
    """Go through the dialog as a person would and return the code handed to redirect_uri."""
    query = {"client_id": APP_ID, "redirect_uri": redirect_uri, "state": "s1", "response_type": "code",
             "scope": "pages_show_list,pages_messaging,pages_manage_metadata,instagram_manage_messages,email"}
    first = client.get("/sandbox/dialog/oauth", {**query, "user": fb_id})
    assert first.status_code == 200
    page = first.content.decode()
    chosen = pages if pages is not None else [p for p in (BAKERY, "104857600234567") if p in page]
    response = client.post("/sandbox/dialog/oauth", {
        **query, "user": fb_id, "pages": chosen, "allow": "1",
        "scopes": scopes if scopes is not None else query["scope"].split(","),
    })
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == redirect_uri
    returned = parse_qs(target.query)
    assert returned["state"] == ["s1"]
    return returned["code"][0]


def exchange(client: Client, code: str, redirect_uri: str = "https://app.test/callback/") -> dict:
    response = call(client, "GET", "oauth/access_token", params={
        "client_id": APP_ID, "client_secret": SECRET, "redirect_uri": redirect_uri, "code": code})
    assert response.status_code == 200, response.content
    return response.json()


def long_lived(client: Client, short: str) -> str:
    response = call(client, "GET", "oauth/access_token", params={
        "grant_type": "fb_exchange_token", "client_id": APP_ID, "client_secret": SECRET, "fb_exchange_token": short})
    assert response.status_code == 200
    assert response.json()["expires_in"] == 5183944
    return response.json()["access_token"]


def page_token(client: Client, user_token: str, page_id: str = BAKERY) -> str:
    data = call(client, "GET", "me/accounts", user_token, params={"fields": "id,access_token"}).json()["data"]
    return next(p["access_token"] for p in data if p["id"] == page_id)


def test_seed_is_idempotent():
    call_command("sandbox_seed")
    call_command("sandbox_seed")
    assert sb.Page.objects.filter(page_id=BAKERY, ig_id=BAKERY_IG).count() == 1
    assert sb.Page.objects.filter(name="Rossi Catering").exists()
    assert sb.Customer.objects.filter(psid=GIULIA).count() == 1


def test_dialog_refuses_another_app_and_a_bad_redirect(client):
    assert client.get("/sandbox/dialog/oauth", {"client_id": "999", "redirect_uri": "https://a.test/"}).status_code == 400
    assert client.get("/sandbox/dialog/oauth", {"client_id": APP_ID, "redirect_uri": "javascript:x"}).status_code == 400


def test_dialog_cancel_returns_meta_error_params(client):
    response = client.post("/sandbox/dialog/oauth", {"client_id": APP_ID, "redirect_uri": "https://app.test/cb/",
                                                     "state": "s9", "user": MARCO, "cancel": "1"})
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query["error"] == ["access_denied"] and query["error_reason"] == ["user_denied"] and query["state"] == ["s9"]


def test_code_exchange_long_lived_and_me(client):
    code = login_code(client)
    short = exchange(client, code)
    assert short["token_type"] == "bearer" and short["expires_in"] == 3600
    token = long_lived(client, short["access_token"])
    assert token != short["access_token"]
    me = call(client, "GET", "me", token, params={"fields": "id,name,email"}).json()
    assert me == {"id": MARCO, "name": "Marco Rossi", "email": "marco@bakery-rossi.example"}


def test_a_code_works_once_and_only_with_its_redirect_uri(client):
    code = login_code(client)
    wrong = call(client, "GET", "oauth/access_token", params={
        "client_id": APP_ID, "client_secret": SECRET, "redirect_uri": "https://other.test/", "code": code})
    assert wrong.status_code == 400 and wrong.json()["error"]["error_subcode"] == 36008
    exchange(client, code)
    again = call(client, "GET", "oauth/access_token", params={
        "client_id": APP_ID, "client_secret": SECRET, "redirect_uri": "https://app.test/callback/", "code": code})
    assert again.json()["error"]["code"] == 100 and again.json()["error"]["error_subcode"] == 36009
    bad_secret = call(client, "GET", "oauth/access_token", params={"client_id": APP_ID, "client_secret": "x", "code": "c"})
    assert bad_secret.json()["error"] == {**bad_secret.json()["error"], "code": 1, "type": "OAuthException"}


def test_me_accounts_lists_granted_pages_with_tokens_tasks_and_instagram(client):
    token = long_lived(client, exchange(client, login_code(client, pages=[BAKERY]))["access_token"])
    body = call(client, "GET", "me/accounts", token, params={
        "fields": "id,name,category,category_list,access_token,tasks,instagram_business_account{id,username}"}).json()
    assert [p["id"] for p in body["data"]] == [BAKERY]  # Rossi Catering was not ticked in the dialog
    bakery = body["data"][0]
    assert bakery["instagram_business_account"] == {"id": BAKERY_IG, "username": "bakeryrossi"}
    assert "MESSAGING" in bakery["tasks"] and bakery["category_list"][0]["name"] == "Bakery"
    assert bakery["access_token"].startswith("EAA")
    assert "paging" in body and "next" not in body["paging"]


def test_debug_token_reports_type_scopes_and_granular_targets(client):
    token = long_lived(client, exchange(client, login_code(client, pages=[BAKERY]))["access_token"])
    app = f"{APP_ID}|{SECRET}"
    data = call(client, "GET", "debug_token", app, params={"input_token": token}).json()["data"]
    assert data["is_valid"] is True and data["type"] == "USER" and data["app_id"] == APP_ID
    assert data["user_id"] == MARCO and data["expires_at"] > 0
    granular = {g["scope"]: g.get("target_ids") for g in data["granular_scopes"]}
    assert granular["pages_messaging"] == [BAKERY] and granular["instagram_manage_messages"] == [BAKERY_IG]
    page = call(client, "GET", "debug_token", app, params={"input_token": page_token(client, token)}).json()["data"]
    assert page["type"] == "PAGE" and page["profile_id"] == BAKERY and page["expires_at"] == 0
    unknown = call(client, "GET", "debug_token", app, params={"input_token": "EAAnope"}).json()["data"]
    assert unknown["is_valid"] is False and unknown["error"]["code"] == 190
    as_user = call(client, "GET", "debug_token", token, params={"input_token": token})
    assert as_user.status_code == 400


def test_tokens_need_a_valid_appsecret_proof(client):
    token = long_lived(client, exchange(client, login_code(client))["access_token"])
    missing = call(client, "GET", "me", token, with_proof=False)
    assert missing.status_code == 400 and "appsecret_proof" in missing.json()["error"]["message"]
    wrong = client.get(f"{GRAPH}/me?appsecret_proof=deadbeef", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert wrong.json()["error"]["message"] == "Invalid appsecret_proof provided in the API argument"
    assert client.get(f"{GRAPH}/me").json()["error"]["code"] == 104
    as_param = client.get(f"{GRAPH}/me?access_token={token}&appsecret_proof={proof(token)}")
    assert as_param.status_code == 200


def test_page_fields_and_profiles(client):
    user = long_lived(client, exchange(client, login_code(client))["access_token"])
    token = page_token(client, user)
    page = call(client, "GET", BAKERY, token, params={
        "fields": "id,name,username,category,category_list,fan_count,followers_count,picture{url}"}).json()
    assert page["followers_count"] == 1923 and page["fan_count"] == 1840 and page["username"] == "bakeryrossi"
    assert page["picture"]["data"]["url"] == f"http://testserver/sandbox/cdn/page-{BAKERY}.png"
    assert "access_token" not in page
    person = call(client, "GET", GIULIA, token, params={"fields": "first_name,last_name,profile_pic"}).json()
    assert person["first_name"] == "Giulia" and person["last_name"] == "Bianchi"
    assert person["profile_pic"].endswith(f"/sandbox/cdn/avatar-{GIULIA}.png") and person["id"] == GIULIA
    ig_person = call(client, "GET", GIULIA_IG, token, params={"fields": "name,username,profile_pic"}).json()
    assert ig_person["username"] == "giulia.b"
    ig = call(client, "GET", BAKERY_IG, token, params={"fields": "id,username,followers_count"}).json()
    assert ig == {"id": BAKERY_IG, "username": "bakeryrossi", "followers_count": 3120}
    other_page_customer = call(client, "GET", "7065432109876543", token).json()
    assert other_page_customer["error"]["code"] == 100 and other_page_customer["error"]["error_subcode"] == 33
    assert call(client, "GET", "999", token).json()["error"]["error_subcode"] == 33


def test_subscribed_apps_post_get_delete(client):
    token = page_token(client, long_lived(client, exchange(client, login_code(client))["access_token"]))
    assert call(client, "GET", f"{BAKERY}/subscribed_apps", token).json() == {"data": []}
    response = call(client, "POST", f"{BAKERY}/subscribed_apps", token,
                    params={"subscribed_fields": "messages,message_echoes"})
    assert response.json() == {"success": True}
    apps = call(client, "GET", f"{BAKERY}/subscribed_apps", token).json()["data"]
    assert apps[0]["id"] == APP_ID and apps[0]["subscribed_fields"] == ["messages", "message_echoes"]
    bad = call(client, "POST", f"{BAKERY}/subscribed_apps", token, params={"subscribed_fields": "nonsense"})
    assert bad.json()["error"]["code"] == 100
    assert call(client, "DELETE", f"{BAKERY}/subscribed_apps", token).json() == {"success": True}
    assert not sb.Subscription.objects.exists()
    user = sb.Token.objects.filter(kind="USER").last().token
    needs_page_token = call(client, "POST", f"{BAKERY}/subscribed_apps", user, params={"subscribed_fields": "messages"})
    assert needs_page_token.json()["error"]["code"] == 210


def test_send_api_returns_ids_and_records_the_call(client):
    token = page_token(client, long_lived(client, exchange(client, login_code(client))["access_token"]))
    body = {"recipient": {"id": GIULIA}, "messaging_type": "RESPONSE", "message": {"text": "Ciao!", "metadata": "o:1"}}
    response = call(client, "POST", f"{BAKERY}/messages", token, body=body)
    assert response.status_code == 200
    data = response.json()
    assert data["recipient_id"] == GIULIA and data["message_id"].startswith("m_")
    seen = call(client, "POST", f"{BAKERY}/messages", token, body={"recipient": {"id": GIULIA},
                                                                   "sender_action": "mark_seen"})
    assert seen.json() == {"recipient_id": GIULIA}
    sent = client.get("/sandbox/control/sent.json", {"page_id": BAKERY}).json()["data"]
    assert [s["message_id"] for s in sent] == [data["message_id"], ""]
    assert sent[0]["body"]["message"]["metadata"] == "o:1" and sent[1]["body"]["sender_action"] == "mark_seen"


def test_send_api_form_encoded_like_older_clients(client):
    token = page_token(client, long_lived(client, exchange(client, login_code(client))["access_token"]))
    response = client.post(f"{GRAPH}/{BAKERY}/messages?appsecret_proof={proof(token)}", {
        "recipient": json.dumps({"id": GIULIA}), "message": json.dumps({"text": "hi"}), "access_token": token})
    assert response.status_code == 200 and response.json()["message_id"]


def test_send_api_enforces_the_messaging_window(client):
    token = page_token(client, long_lived(client, exchange(client, login_code(client))["access_token"]))
    sb.Customer.objects.filter(psid=GIULIA).update(last_message_at=timezone.now() - timedelta(hours=30))
    body = {"recipient": {"id": GIULIA}, "messaging_type": "RESPONSE", "message": {"text": "late"}}
    late = call(client, "POST", f"{BAKERY}/messages", token, body=body).json()["error"]
    assert (late["code"], late["error_subcode"]) == (10, 2018278)
    tagged = {**body, "messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}
    assert call(client, "POST", f"{BAKERY}/messages", token, body=tagged).status_code == 200
    sb.Customer.objects.filter(psid=GIULIA).update(last_message_at=timezone.now() - timedelta(days=8))
    assert call(client, "POST", f"{BAKERY}/messages", token, body=tagged).json()["error"]["error_subcode"] == 2018278
    sb.Customer.objects.filter(psid=GIULIA).update(last_message_at=timezone.now() - timedelta(days=2))
    sb.Config.objects.update(human_agent_approved=False)
    assert call(client, "POST", f"{BAKERY}/messages", token, body=tagged).json()["error"]["error_subcode"] == 2018276
    sb.Customer.objects.filter(psid=GIULIA_IG).update(last_message_at=None)
    ig = call(client, "POST", f"{BAKERY}/messages", token, body={**body, "recipient": {"id": GIULIA_IG}}).json()
    assert (ig["error"]["code"], ig["error"]["error_subcode"]) == (10, 2534022)


def test_send_api_refusals(client):
    user = long_lived(client, exchange(client, login_code(client))["access_token"])
    token = page_token(client, user)
    body = {"recipient": {"id": GIULIA}, "messaging_type": "RESPONSE", "message": {"text": "x"}}
    stranger = call(client, "POST", f"{BAKERY}/messages", token, body={**body, "recipient": {"id": "123"}}).json()
    assert (stranger["error"]["code"], stranger["error"]["error_subcode"]) == (100, 2018001)
    too_long = call(client, "POST", f"{BAKERY}/messages", token, body={**body, "message": {"text": "x" * 2001}})
    assert too_long.json()["error"]["code"] == 100
    ig_too_long = {**body, "recipient": {"id": GIULIA_IG}, "message": {"text": "é" * 501}}  # 1002 bytes
    assert call(client, "POST", f"{BAKERY}/messages", token, body=ig_too_long).json()["error"]["code"] == 100
    sb.Customer.objects.filter(psid=GIULIA).update(blocked=True)
    assert call(client, "POST", f"{BAKERY}/messages", token, body=body).json()["error"]["code"] == 551
    with_user_token = call(client, "POST", f"{BAKERY}/messages", user, body=body).json()
    assert with_user_token["error"]["code"] == 210


def test_control_invalidate_expire_and_revoke(client):
    user = long_lived(client, exchange(client, login_code(client))["access_token"])
    token = page_token(client, user)
    assert call(client, "GET", BAKERY, token).status_code == 200
    assert client.post("/sandbox/control/tokens/invalidate", {"page_id": BAKERY},
                       content_type="application/json").json()["tokens"] >= 1
    error = call(client, "GET", BAKERY, token).json()["error"]
    assert (error["code"], error["error_subcode"]) == (190, 460)
    client.post("/sandbox/control/tokens/restore", {"page_id": BAKERY}, content_type="application/json")
    client.post("/sandbox/control/tokens/expire", {"user_id": MARCO}, content_type="application/json")
    assert call(client, "GET", "me", user).json()["error"]["error_subcode"] == 463
    # A Page token from a long-lived user token has no expiry of its own… but the control API expired it too.
    assert call(client, "GET", BAKERY, token).json()["error"]["code"] == 190
    assert client.post("/sandbox/control/tokens/expire", {}, content_type="application/json").status_code == 404


def test_user_invalidation_reaches_its_page_tokens(client):
    user = long_lived(client, exchange(client, login_code(client))["access_token"])
    token = page_token(client, user)
    sb.Token.objects.filter(token=user).update(invalid_subcode=460)  # the person changed their password
    assert call(client, "GET", BAKERY, token).json()["error"]["error_subcode"] == 460


def test_control_faults_fail_the_next_calls_then_clear(client):
    token = page_token(client, long_lived(client, exchange(client, login_code(client))["access_token"]))
    client.post("/sandbox/control/faults", {"path": f"/{BAKERY}/messages", "method": "POST", "count": 2, "code": 2,
                                            "http_status": 500}, content_type="application/json")
    body = {"recipient": {"id": GIULIA}, "messaging_type": "RESPONSE", "message": {"text": "x"}}
    first = call(client, "POST", f"{BAKERY}/messages", token, body=body)
    assert first.status_code == 500 and first.json()["error"]["code"] == 2 and first.json()["error"]["fbtrace_id"]
    assert call(client, "POST", f"{BAKERY}/messages", token, body=body).status_code == 500
    assert call(client, "POST", f"{BAKERY}/messages", token, body=body).status_code == 200
    assert not sb.SentMessage.objects.filter(message_id="").exists()
    assert sb.SentMessage.objects.count() == 1
    calls = client.get("/sandbox/control/calls.json", {"path": f"/{BAKERY}/messages"}).json()["data"]
    assert [c["status"] for c in calls] == [500, 500, 200] and all(c["had_proof"] for c in calls)
    client.post("/sandbox/control/faults", {"path": "/me", "count": 5}, content_type="application/json")
    client.delete("/sandbox/control/faults")
    assert client.get("/sandbox/control/faults").json() == {"faults": []}


def test_control_customers_and_unsubscribe(client):
    assert client.post("/sandbox/control/customers", {"page_id": BAKERY, "psid": "7099", "first_name": "Nina",
                                                      "last_message_minutes_ago": 5},
                       content_type="application/json").json()["created"] is True
    assert sb.Customer.objects.get(psid="7099").last_message_at is not None
    sb.Subscription.objects.create(page=sb.Page.objects.get(page_id=BAKERY), fields=["messages"])
    assert client.post("/sandbox/control/unsubscribe", {"page_id": BAKERY},
                       content_type="application/json").json() == {"unsubscribed": True}


def test_cdn_serves_media_and_expired_urls(client):
    png = client.get("/sandbox/cdn/avatar-1.png")
    assert png["Content-Type"] == "image/png" and png.content.startswith(b"\x89PNG")
    assert client.get("/sandbox/cdn/voice.mp3")["Content-Type"] == "audio/mpeg"
    assert client.get("/sandbox/cdn/menu.pdf").content.startswith(b"%PDF")
    assert client.get("/sandbox/cdn/photo.jpg", {"oe": "5f000000"}).status_code == 403
    assert client.get("/sandbox/cdn/photo.jpg", {"oe": "ffffffff"}).status_code == 200
    assert len(client.get("/sandbox/cdn/big.bin", {"bytes": "2048"}).content) == 2048
    assert client.get("/sandbox/cdn/x.png", {"status": "500"}).status_code == 500


def test_index_page_lists_the_sandbox(client):
    response = client.get("/sandbox/")
    assert response.status_code == 200 and b"Bakery Rossi" in response.content


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[str, bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Receiver.received.append((self.headers["X-Hub-Signature-256"], body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_a_send_is_followed_by_signed_echo_delivery_and_read_webhooks(client):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Receiver.received = []
    try:
        sb.Config.objects.update(send_receipts=True, webhook_url=f"http://127.0.0.1:{server.server_port}/hook",
                                 echo_delay=0.05, read_delay=0.2)
        token = page_token(client, long_lived(client, exchange(client, login_code(client))["access_token"]))
        body = {"recipient": {"id": GIULIA}, "messaging_type": "RESPONSE", "message": {"text": "Grazie!",
                                                                                        "metadata": "outbox:42"}}
        mid = call(client, "POST", f"{BAKERY}/messages", token, body=body).json()["message_id"]
        for _ in range(100):
            if len(_Receiver.received) >= 3:
                break
            threading.Event().wait(0.05)
    finally:
        server.shutdown()
    assert len(_Receiver.received) == 3
    events = []
    for signature, raw in _Receiver.received:
        assert signature == payloads.sign(raw, SECRET)
        envelope = json.loads(raw)
        assert envelope["object"] == "page" and envelope["entry"][0]["id"] == BAKERY
        events.append(envelope["entry"][0]["messaging"][0])
    echo, delivery, read = events
    assert echo["message"] == {**echo["message"], "is_echo": True, "mid": mid, "metadata": "outbox:42",
                               "text": "Grazie!", "app_id": int(APP_ID)}
    assert echo["sender"]["id"] == BAKERY and echo["recipient"]["id"] == GIULIA
    assert delivery["delivery"]["mids"] == [mid] and read["read"]["watermark"] >= delivery["delivery"]["watermark"]


def test_the_sandbox_is_neither_installed_nor_routed_in_production(settings):
    import importlib

    import config.urls
    from config.settings import base

    assert "sandbox" not in base.INSTALLED_APPS and base.SANDBOX is False
    settings.SANDBOX = False
    try:
        module = importlib.reload(config.urls)
        assert not any("sandbox" in str(p.pattern) for p in module.urlpatterns)
    finally:
        settings.SANDBOX = True
        importlib.reload(config.urls)


def test_a_customer_who_writes_opens_the_window_and_becomes_known(client):
    from sandbox.graph import customer_message_received

    token = page_token(client, long_lived(client, exchange(client, login_code(client))["access_token"]))
    body = {"recipient": {"id": "7000000000000001"}, "messaging_type": "RESPONSE", "message": {"text": "hi"}}
    assert call(client, "POST", f"{BAKERY}/messages", token, body=body).json()["error"]["error_subcode"] == 2018001
    customer_message_received(psid="7000000000000001", page_id=BAKERY, name="Nina Sandbox")
    assert call(client, "POST", f"{BAKERY}/messages", token, body=body).status_code == 200
    profile = call(client, "GET", "7000000000000001", token, params={"fields": "first_name,last_name"}).json()
    assert profile == {"id": "7000000000000001", "first_name": "Nina", "last_name": "Sandbox"}
    customer_message_received(psid="9870000000000001", page_id=BAKERY_IG)
    assert sb.Customer.objects.get(psid="9870000000000001").platform == "INSTAGRAM"
    assert client.get("/sandbox/media/photo.jpg")["Content-Type"] == "image/png"
