"""The Graph client against canned Meta responses (`responses`): auth, errors, one call per call, and
what the services' hooks do around it (usage limits, audit, invalid tokens)."""

from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from django.core import mail
from django.core.cache import cache

from accounts.models import AuditEvent
from social import graph
from social.graph import (
    GraphAPIError,
    GraphCall,
    GraphClient,
    GraphPermissionError,
    InvalidParameterError,
    OutsideWindowError,
    RateLimitError,
    RecipientUnavailableError,
    TokenInvalidError,
    TransientGraphError,
)
from social.models import Platform, SocialAccount
from social.services import account_graph_client, graph_client
from social.tests.factories import SocialAccountFactory

pytestmark = pytest.mark.django_db

BASE = "https://graph.test/v25.0"
PAGE_TOKEN = "EAAPageTokenForTestsOnly1234567890"


@pytest.fixture(autouse=True)
def _graph(settings, monkeypatch):
    settings.FACEBOOK_GRAPH_URL = BASE
    settings.FACEBOOK_APP_ID = "100000000000001"
    settings.FACEBOOK_APP_SECRET = "sandbox-app-secret"
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def account(business):
    return SocialAccountFactory(business=business, account_id="104857600123456", access_token=PAGE_TOKEN)


def error_body(code: int, subcode: int | None = None, message: str = "Meta says no") -> dict:
    error = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbCdEf"}
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": error}


def proof(token: str) -> str:
    return hmac.new(b"sandbox-app-secret", token.encode(), hashlib.sha256).hexdigest()


@responses.activate
def test_a_call_sends_the_token_in_a_header_and_the_appsecret_proof(account):
    responses.get(f"{BASE}/104857600123456", json={"id": "104857600123456", "name": "Bakery Rossi"})
    body = account_graph_client(account).get("104857600123456", {"fields": "id,name"})
    assert body["name"] == "Bakery Rossi"
    sent = responses.calls[0].request
    query = parse_qs(urlsplit(sent.url).query)
    assert sent.headers["Authorization"] == f"Bearer {PAGE_TOKEN}"
    assert query["appsecret_proof"] == [proof(PAGE_TOKEN)]
    assert query["fields"] == ["id,name"]
    assert PAGE_TOKEN not in sent.url


@responses.activate
def test_the_base_url_is_read_when_called(settings):
    settings.FACEBOOK_GRAPH_URL = "https://elsewhere.test/v26.0/"
    responses.get("https://elsewhere.test/v26.0/me", json={"id": "1"})
    assert GraphClient(access_token="EAAUserToken1234567890").get("me") == {"id": "1"}


def test_one_session_per_process(monkeypatch):
    first = graph.get_session()
    assert graph.get_session() is first
    monkeypatch.setattr(graph.os, "getpid", lambda: -1)  # as in a forked worker
    assert graph.get_session() is not first


def test_a_url_instead_of_a_path_is_refused():
    with pytest.raises(InvalidParameterError):
        GraphClient(access_token="EAAx").get("https://evil.test/me")


@pytest.mark.parametrize(
    ("http_status", "body", "expected"),
    [
        (400, error_body(190, 460), TokenInvalidError),
        (400, error_body(10, 2018278), OutsideWindowError),
        (400, error_body(10, 2534022), OutsideWindowError),
        (400, error_body(10), GraphPermissionError),
        (403, error_body(200), GraphPermissionError),
        (400, error_body(10, 2018108), GraphPermissionError),
        (400, error_body(3), GraphPermissionError),
        (400, error_body(2, 2018344), GraphPermissionError),
        (400, error_body(551), RecipientUnavailableError),
        (400, error_body(100, 2018001), RecipientUnavailableError),
        (400, error_body(200, 1545041), RecipientUnavailableError),
        (400, error_body(100), InvalidParameterError),
        (400, error_body(100, 2018276), InvalidParameterError),
        (400, error_body(4), RateLimitError),
        (400, error_body(32), RateLimitError),
        (400, error_body(613), RateLimitError),
        (400, error_body(80006), RateLimitError),
        (500, error_body(2), TransientGraphError),
        (500, error_body(1), TransientGraphError),
        (400, error_body(1200), TransientGraphError),
        (502, None, TransientGraphError),
        (429, None, RateLimitError),
        (404, None, GraphAPIError),
    ],
)
def test_meta_errors_map_to_their_kind(http_status, body, expected):
    error = graph.error_from_response(http_status=http_status, body=body)
    assert type(error) is expected
    if body:
        assert error.code == body["error"]["code"] and error.fbtrace_id == "AbCdEf"
        assert error.subcode == body["error"].get("error_subcode")
    assert error.http_status == http_status


@responses.activate
def test_a_transient_error_is_raised_after_one_call_without_sleeping(account, monkeypatch):
    # Retrying is the task's job (config.tasks.RetryingTask): the transport never sleeps nor repeats.
    monkeypatch.setattr(graph.time, "sleep", lambda seconds: pytest.fail("the client slept"))
    responses.get(f"{BASE}/104857600123456", json=error_body(2), status=500)
    responses.get(f"{BASE}/104857600123456", json={"id": "104857600123456"})
    with pytest.raises(TransientGraphError) as caught:
        account_graph_client(account).get("104857600123456")
    assert caught.value.code == 2 and not caught.value.may_have_succeeded
    assert len(responses.calls) == 1
    assert account_graph_client(account).get("104857600123456") == {"id": "104857600123456"}


@pytest.mark.parametrize("body", [error_body(100), error_body(10, 2018278), error_body(551), error_body(200)])
@responses.activate
def test_a_permanent_error_is_not_retried(account, body):
    responses.post(f"{BASE}/104857600123456/messages", json=body, status=400)
    with pytest.raises(GraphAPIError) as caught:
        account_graph_client(account).send_message(recipient_id="7012345678901234", messaging_type="RESPONSE",
                                                     text="hi")
    assert not isinstance(caught.value, TransientGraphError)
    assert len(responses.calls) == 1


@responses.activate
def test_a_send_is_never_repeated_after_a_read_timeout(account):
    url = f"{BASE}/104857600123456/messages"
    responses.post(url, body=requests.ReadTimeout("read timed out"))
    responses.post(url, json={"recipient_id": "7012345678901234", "message_id": "m_dup"})
    with pytest.raises(TransientGraphError) as caught:
        account_graph_client(account).send_message(recipient_id="7012345678901234", messaging_type="RESPONSE",
                                                     text="hi")
    assert caught.value.may_have_succeeded is True
    assert len(responses.calls) == 1


@responses.activate
def test_a_send_is_not_repeated_after_a_5xx_without_meta_error(account):
    responses.post(f"{BASE}/104857600123456/messages", status=502, body="Bad gateway")
    with pytest.raises(TransientGraphError) as caught:
        account_graph_client(account).send_message(recipient_id="7012345678901234", messaging_type="RESPONSE",
                                                     text="hi")
    assert caught.value.may_have_succeeded is True
    assert len(responses.calls) == 1


@responses.activate
def test_a_connect_failure_says_meta_cannot_have_acted(account):
    # So the task may send again: nothing reached Meta.
    responses.post(f"{BASE}/104857600123456/messages", body=requests.ConnectTimeout("connect timed out"))
    with pytest.raises(TransientGraphError) as caught:
        account_graph_client(account).send_message(recipient_id="7012345678901234", messaging_type="RESPONSE",
                                                   text="hi", metadata="outbox:1")
    assert caught.value.may_have_succeeded is False
    assert len(responses.calls) == 1
    sent = json.loads(responses.calls[0].request.body)
    assert sent == {"recipient": {"id": "7012345678901234"}, "messaging_type": "RESPONSE",
                    "message": {"text": "hi", "metadata": "outbox:1"}}


@responses.activate
def test_a_read_timeout_of_any_call_is_one_transient_error(account):
    responses.post(f"{BASE}/104857600123456/subscribed_apps", body=requests.ReadTimeout("read timed out"))
    with pytest.raises(TransientGraphError) as caught:
        account_graph_client(account).post("104857600123456/subscribed_apps", data={"subscribed_fields": "messages"})
    assert caught.value.may_have_succeeded is True
    assert len(responses.calls) == 1


@responses.activate
def test_send_message_shapes(account):
    url = f"{BASE}/104857600123456/messages"
    responses.post(url, json={"recipient_id": "7", "message_id": "m_1"})
    responses.post(url, json={"recipient_id": "7"})
    client = account_graph_client(account)
    client.send_message(recipient_id="7", messaging_type="MESSAGE_TAG", tag="HUMAN_AGENT",
                        attachment_url="https://cdn.test/a.png", attachment_type="image")
    client.send_sender_action(recipient_id="7", action="mark_seen")
    first, second = (json.loads(c.request.body) for c in responses.calls)
    assert first["tag"] == "HUMAN_AGENT" and first["messaging_type"] == "MESSAGE_TAG"
    assert first["message"] == {"attachment": {"type": "image", "payload": {"url": "https://cdn.test/a.png",
                                                                             "is_reusable": True}}}
    assert second == {"recipient": {"id": "7"}, "sender_action": "mark_seen"}
    with pytest.raises(InvalidParameterError):
        client.send_message(recipient_id="7", messaging_type="RESPONSE")


@responses.activate
def test_an_instagram_account_sends_through_its_page(business):
    page = SocialAccountFactory(business=business, account_id="104857600123456", access_token=PAGE_TOKEN)
    ig = SocialAccountFactory(business=business, platform=Platform.INSTAGRAM, account_id="17841400000000000",
                              page=page, access_token="")
    responses.post(f"{BASE}/104857600123456/messages", json={"message_id": "m_ig"})
    responses.get(f"{BASE}/987654321098765", json={"id": "987654321098765", "username": "giulia.b"})
    client = account_graph_client(ig)
    client.send_message(recipient_id="987654321098765", messaging_type="RESPONSE", text="ciao")
    client.user_profile(user_id="987654321098765", platform=Platform.INSTAGRAM)
    assert responses.calls[0].request.headers["Authorization"] == f"Bearer {PAGE_TOKEN}"
    assert parse_qs(urlsplit(responses.calls[1].request.url).query)["fields"] == ["name,username,profile_pic"]


@responses.activate
def test_facebook_profile_fields(account):
    responses.get(f"{BASE}/7012345678901234", json={"id": "7012345678901234", "first_name": "Giulia"})
    account_graph_client(account).user_profile(user_id="7012345678901234", platform=Platform.FACEBOOK)
    assert parse_qs(urlsplit(responses.calls[0].request.url).query)["fields"] == ["first_name,last_name,profile_pic"]


@responses.activate
def test_a_rate_limit_error_carries_the_regain_time_and_holds_further_calls(account):
    buc = {"104857600123456": [{"type": "pages", "call_count": 100, "total_cputime": 30, "total_time": 40,
                                "estimated_time_to_regain_access": 5}]}
    responses.post(f"{BASE}/104857600123456/messages", json=error_body(32), status=400,
                   headers={"X-Business-Use-Case-Usage": json.dumps(buc)})
    client = account_graph_client(account)
    with pytest.raises(RateLimitError) as caught:
        client.send_message(recipient_id="7", messaging_type="RESPONSE", text="hi")
    assert caught.value.retry_after == 300
    assert len(responses.calls) == 1  # never retried in-process
    with pytest.raises(RateLimitError) as held:
        client.get("104857600123456")
    assert 0 < held.value.retry_after <= 300
    assert len(responses.calls) == 1  # held back locally: Meta was not called again


@responses.activate
def test_high_app_usage_holds_calls_before_meta_refuses(account):
    responses.get(f"{BASE}/me", json={"id": "1"}, headers={
        "X-App-Usage": json.dumps({"call_count": 97, "total_time": 20, "total_cputime": 10})})
    client = graph_client(access_token="EAAUserToken1234567890")
    assert client.get("me") == {"id": "1"}
    with pytest.raises(RateLimitError):
        client.get("me")
    assert len(responses.calls) == 1


def test_usage_headers_are_parsed():
    usage = graph.parse_usage({
        "x-app-usage": '{"call_count":28,"total_time":25,"total_cputime":25}',
        "X-Business-Use-Case-Usage": '{"1":[{"type":"pages","call_count":12,"total_cputime":3,"total_time":5,'
                                     '"estimated_time_to_regain_access":0}],"2":[{"call_count":99,'
                                     '"estimated_time_to_regain_access":2}]}',
    })
    assert usage.app_percent == 28 and usage.max_percent == 99
    assert usage.regain_seconds == 120 and usage.blocked_ids == ["2"]
    assert graph.parse_usage({"X-App-Usage": "not json"}).max_percent == 0


@responses.activate
def test_an_invalid_token_marks_the_account_and_the_business_is_told(account, member, django_capture_on_commit_callbacks):
    responses.get(f"{BASE}/104857600123456", json=error_body(190, 460, "Error validating access token"), status=400)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(TokenInvalidError):
        account_graph_client(account).get("104857600123456")
    account.refresh_from_db()
    assert account.status == SocialAccount.Status.NEEDS_RECONNECT
    assert account.status_reason == "Error validating access token"
    assert len(responses.calls) == 1
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["owner@bakery.example"]


@responses.activate
def test_a_190_on_the_app_token_does_not_mark_the_account(account):
    responses.get(f"{BASE}/debug_token", json=error_body(190), status=400)
    with pytest.raises(TokenInvalidError):
        account_graph_client(account).debug_token(input_token=PAGE_TOKEN)
    account.refresh_from_db()
    assert account.status == SocialAccount.Status.ACTIVE
    sent = responses.calls[0].request
    assert sent.headers["Authorization"] == "Bearer 100000000000001|sandbox-app-secret"
    assert graph.app_token() == "100000000000001|sandbox-app-secret"


@responses.activate
def test_token_exchanges_send_no_bearer_token():
    responses.get(f"{BASE}/oauth/access_token", json={"access_token": "EAALongLived1234567890", "expires_in": 5183944})
    data = GraphClient().exchange_token(token="EAAShortLived1234567890")
    assert data["access_token"] == "EAALongLived1234567890"
    sent = responses.calls[0].request
    query = parse_qs(urlsplit(sent.url).query)
    assert "Authorization" not in sent.headers and "appsecret_proof" not in query
    assert query["grant_type"] == ["fb_exchange_token"] and query["client_id"] == ["100000000000001"]


@responses.activate
def test_paginate_follows_the_after_cursor():
    url = f"{BASE}/me/accounts"
    responses.get(url, json={"data": [{"id": "1"}, {"id": "2"}], "paging": {
        "cursors": {"after": "QVFIa"}, "next": f"{url}?access_token=EAASecret1234567890&after=QVFIa"}})
    responses.get(url, json={"data": [{"id": "3"}], "paging": {"cursors": {"after": "QVFIb"}}})
    items = list(GraphClient(access_token="EAAUserToken1234567890").paginate("me/accounts", {"limit": 2}))
    assert [i["id"] for i in items] == ["1", "2", "3"]
    assert parse_qs(urlsplit(responses.calls[1].request.url).query)["after"] == ["QVFIa"]


@responses.activate
def test_every_call_is_audited_without_tokens(account, caplog):
    caplog.set_level("DEBUG")
    url = f"{BASE}/104857600123456/messages"
    responses.post(url, json=error_body(2), status=500)
    responses.post(url, json={"recipient_id": "7", "message_id": "m_1"})
    client = account_graph_client(account, actor=None)
    with pytest.raises(TransientGraphError):
        client.send_message(recipient_id="7", messaging_type="RESPONSE", text="hi")
    client.send_message(recipient_id="7", messaging_type="RESPONSE", text="hi")
    responses.get(f"{BASE}/debug_token", json={"data": {"is_valid": True}})
    graph_client(business=account.business).debug_token(input_token=PAGE_TOKEN)
    events = list(AuditEvent.objects.filter(action="graph.call").order_by("id"))
    assert len(events) == 3
    failed, sent, debug = (e.metadata for e in events)
    assert failed["method"] == "POST" and failed["path"] == "/104857600123456/messages"
    assert failed["status"] == 500 and failed["error_code"] == 2 and failed["error"] == "TransientGraphError"
    assert sent["status"] == 200 and "error_code" not in sent
    assert isinstance(sent["duration_ms"], int) and sent["account_id"] == "104857600123456"
    assert events[0].business == account.business and events[0].target_id == str(account.pk)
    assert debug["path"] == "/debug_token"
    everything = json.dumps([e.metadata for e in events]) + caplog.text
    for secret in (PAGE_TOKEN, "sandbox-app-secret", proof(PAGE_TOKEN)):
        assert secret not in everything


@responses.activate
def test_the_transport_reports_each_call_to_its_hook_and_writes_nothing(django_assert_num_queries):
    calls: list[GraphCall] = []
    headers = {"X-App-Usage": json.dumps({"call_count": 42, "total_time": 7, "total_cputime": 3})}
    responses.get(f"{BASE}/me", json={"id": "1"}, headers=headers)
    responses.get(f"{BASE}/104857600123456", json=error_body(100, message="Bad field"), status=400)
    client = GraphClient(access_token=PAGE_TOKEN, page_id="104857600123456", on_call=calls.append)
    with django_assert_num_queries(0):
        client.get("me", {"fields": "id,name"})
        with pytest.raises(InvalidParameterError):
            client.get("104857600123456")
    ok, failed = calls
    assert (ok.method, ok.path, ok.status, ok.fields, ok.error, ok.own_token) == ("GET", "/me", 200, "id,name",
                                                                                  None, True)
    assert ok.usage.app_percent == 42 and isinstance(ok.duration_ms, int)
    assert failed.status == 400 and isinstance(failed.error, InvalidParameterError)
    assert failed.error_class == "InvalidParameterError"
    with pytest.raises(AttributeError):
        ok.status = 500  # a frozen record
    assert PAGE_TOKEN not in repr(calls)


@responses.activate
def test_a_failing_hook_does_not_fail_the_call(caplog):
    def broken(call):
        raise RuntimeError("hook down")

    responses.get(f"{BASE}/me", json={"id": "1"})
    assert GraphClient(access_token="EAAUserToken1234567890", on_call=broken).get("me") == {"id": "1"}
    assert "The hook of a Graph call failed" in caplog.text


@responses.activate
def test_a_before_call_hook_can_hold_the_call_back():
    def hold():
        raise RateLimitError("held", retry_after=30)

    with pytest.raises(RateLimitError):
        GraphClient(access_token="EAAUserToken1234567890", before_call=hold).get("me")
    assert len(responses.calls) == 0


def test_transient_errors_are_what_the_tasks_retry():
    from config.tasks import RetryLater

    assert isinstance(TransientGraphError("down"), RetryLater)
    assert isinstance(RateLimitError("slow", retry_after=90), RetryLater)
    assert RateLimitError("slow", retry_after=90).retry_after == 90
    assert not isinstance(GraphPermissionError("no"), RetryLater)


@responses.activate
def test_an_audit_failure_does_not_fail_the_call(account, monkeypatch):
    import accounts.services

    def broken(**kwargs):
        raise RuntimeError("database down")

    monkeypatch.setattr(accounts.services, "audit_record", broken)
    responses.post(f"{BASE}/104857600123456/messages", json={"recipient_id": "7", "message_id": "m_1"})
    result = account_graph_client(account).send_message(recipient_id="7", messaging_type="RESPONSE", text="hi")
    assert result["message_id"] == "m_1"


@pytest.fixture
def cdn_test(settings):
    # Downloads go only to allowed media origins (social/safe_fetch.py; its own tests cover the refusals).
    settings.MEDIA_FETCH_ALLOWED_ORIGINS = ["https://cdn.test"]


@responses.activate
def test_download_returns_bytes_without_sending_a_token(account, cdn_test):
    responses.get("https://cdn.test/a.png", body=b"\x89PNG....", content_type="image/png")
    content, content_type = account_graph_client(account).download("https://cdn.test/a.png?oe=1", max_bytes=100)
    assert content == b"\x89PNG...." and content_type == "image/png"
    assert "Authorization" not in responses.calls[0].request.headers
    event = AuditEvent.objects.get(action="graph.call")
    assert event.metadata["path"] == "/cdn.test/a.png" and event.metadata["kind"] == "download"


@responses.activate
def test_download_refuses_a_file_over_the_limit(account, cdn_test):
    responses.get("https://cdn.test/big.bin", body=b"x" * 101)
    with pytest.raises(GraphAPIError) as caught:
        account_graph_client(account).download("https://cdn.test/big.bin", max_bytes=100)
    assert not isinstance(caught.value, TransientGraphError)
    assert len(responses.calls) == 1


@responses.activate
def test_download_of_an_expired_url_is_permanent_and_a_5xx_is_transient(account, cdn_test):
    responses.get("https://cdn.test/expired.png", status=403, body=b"URL signature expired")
    with pytest.raises(GraphAPIError) as caught:
        account_graph_client(account).download("https://cdn.test/expired.png", max_bytes=100)
    assert caught.value.http_status == 403 and not isinstance(caught.value, TransientGraphError)
    responses.get("https://cdn.test/flaky.png", status=503)
    responses.get("https://cdn.test/flaky.png", body=b"ok")
    with pytest.raises(TransientGraphError):  # the task tries again later
        account_graph_client(account).download("https://cdn.test/flaky.png", max_bytes=100)
    assert account_graph_client(account).download("https://cdn.test/flaky.png", max_bytes=100)[0] == b"ok"
    assert len(responses.calls) == 3


def test_errors_never_print_a_token():
    error = GraphAPIError("Invalid token EAABadTokenValue1234567890 in access_token=EAASecretValue1234567890", code=190)
    assert "EAABadTokenValue" not in str(error) and "EAASecretValue" not in str(error)
    assert "EAA" not in repr(GraphClient(access_token=PAGE_TOKEN))
