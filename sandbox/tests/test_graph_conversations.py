"""The sandbox's Conversations API answers in Meta's shapes, pages with cursors and refuses as Meta does."""

from __future__ import annotations

import json

import pytest

from sandbox.history import history_seed, thread_id, thread_message_add
from sandbox.models import Customer, Fault, Page, SentMessage, Token
from sandbox.testing import sandbox_http_fixture, user_token  # noqa: F401 - fixture
from social.graph import GraphClient, GraphPermissionError, InvalidParameterError, RateLimitError, TokenInvalidError

pytestmark = pytest.mark.django_db

BAKERY = "104857600123456"
IG = "17841400000000000"


def page_client() -> GraphClient:
    """The Page token the connect flow would get, through /me/accounts."""
    accounts = GraphClient(access_token=user_token()).get("me/accounts", {"fields": "id,access_token"})
    token = next(p["access_token"] for p in accounts["data"] if p["id"] == BAKERY)
    return GraphClient(access_token=token, page_id=BAKERY)


def test_conversations_are_listed_newest_first_with_their_messages_and_cursor_paging(sandbox_http):
    history_seed(page_id=BAKERY, conversations=30, days=10)
    client = page_client()
    first = client.conversations(platform="messenger", limit=25, message_limit=1)
    assert len(first["data"]) == 25 and first["paging"]["next"] and first["paging"]["cursors"]["after"]
    thread = first["data"][0]
    assert thread["id"].startswith("t_") and thread["updated_time"].endswith("+0000")
    people = thread["participants"]["data"]
    assert {p["id"] for p in people} >= {BAKERY} and all({"name", "email", "id"} <= set(p) for p in people)
    messages = thread["messages"]
    assert len(messages["data"]) == 1 and messages["paging"]["next"]  # the limit(1) of two messages
    newest = messages["data"][0]
    assert set(newest) == {"id", "created_time", "from", "to", "message"} and newest["from"]["id"] == BAKERY
    times = [t["updated_time"] for t in first["data"]]
    assert times == sorted(times, reverse=True)

    rest = client.conversations(platform="messenger", after=first["paging"]["cursors"]["after"], limit=25)
    assert len(rest["data"]) == 5 and "next" not in rest["paging"]
    assert not {t["id"] for t in rest["data"]} & {t["id"] for t in first["data"]}

    older = client.thread_messages(thread["id"], after=messages["paging"]["cursors"]["after"], limit=25)
    assert [m["from"]["id"] != BAKERY for m in older["data"]] == [True] and "next" not in older["paging"]


def test_a_thread_includes_the_page_s_replies_and_later_customer_messages(sandbox_http):
    customer = Customer.objects.get(psid="7012345678901234")
    thread_message_add(customer=customer, text="Hello?")
    SentMessage.objects.create(page=customer.page, recipient_id=customer.psid, message_id="m_reply",
                               body={"message": {"text": "Hi Giulia"}})
    client = page_client()
    bare = client.get(f"{thread_id(customer)}/messages")
    assert [set(m) for m in bare["data"]] == [{"id", "created_time"}] * 2  # Meta's default fields
    body = client.thread_messages(thread_id(customer))
    assert body["data"][0]["id"] == "m_reply" and body["data"][0]["from"]["id"] == BAKERY
    full = page_client().get(f"{thread_id(customer)}/messages", {"fields": "message,from"})
    assert [m["message"] for m in full["data"]] == ["Hi Giulia", "Hello?"]


def test_instagram_threads_use_usernames_and_opaque_ids(sandbox_http):
    history_seed(page_id=BAKERY, conversations=3, instagram=True)
    body = page_client().conversations(platform="instagram")
    assert len(body["data"]) == 3 and not body["data"][0]["id"].startswith("t_")
    people = body["data"][0]["participants"]["data"]
    assert {"username", "id"} == set(people[0]) and IG in {p["id"] for p in people}
    assert body["data"][0]["messages"]["data"][0]["from"] == {"username": "bakeryrossi", "id": IG}


def test_meta_s_refusals(sandbox_http):
    client = page_client()
    with pytest.raises(InvalidParameterError):
        client.conversations(platform="whatsapp")
    Fault.objects.create(path=f"/{BAKERY}/conversations", http_status=400, code=613, message="(#613) Calls to this "
                         "api have exceeded the rate limit.")
    with pytest.raises(RateLimitError):
        client.conversations(platform="messenger")
    page_token = Token.objects.get(token=client.access_token)
    page_token.scopes = [s for s in page_token.scopes if s != "pages_messaging"]
    page_token.save(update_fields=["scopes"])
    with pytest.raises(GraphPermissionError):
        client.conversations(platform="messenger")
    page_token.invalid_subcode = 460
    page_token.save(update_fields=["invalid_subcode"])
    with pytest.raises(TokenInvalidError):
        client.conversations(platform="messenger")


def test_another_page_s_token_reads_no_thread(sandbox_http):
    customer = Customer.objects.get(psid="7023456789012345")  # Rossi Catering's
    thread_message_add(customer=customer, text="Hi")
    with pytest.raises(InvalidParameterError):
        page_client().thread_messages(thread_id(customer))


def test_the_control_endpoint_seeds_threads_and_refuses_bad_input(sandbox_http, client):
    url = "/sandbox/control/history"
    answer = client.post(url, json.dumps({"page_id": BAKERY, "conversations": 4}), content_type="application/json")
    assert answer.status_code == 200 and answer.json() == {"conversations": 4}
    assert Page.objects.get(page_id=BAKERY).thread_messages.count() == 8
    for bad in ({"page_id": "nope", "conversations": 1}, {"page_id": BAKERY, "conversations": "many"},
                {"page_id": BAKERY, "conversations": 0}):
        response = client.post(url, json.dumps(bad), content_type="application/json")
        assert response.status_code == 400 and "error" in response.json()
