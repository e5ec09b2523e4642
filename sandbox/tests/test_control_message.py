"""The sandbox's control API writes to a page as its customer, as Meta delivers it (channel health's test message)."""

from __future__ import annotations

import json
from unittest import mock

import pytest
from django.conf import settings

from sandbox.models import Customer
from sandbox.seed import seed

pytestmark = pytest.mark.django_db

BAKERY, BAKERY_INSTAGRAM = "104857600123456", "17841400000000000"


@pytest.fixture(autouse=True)
def _seeded(db):
    seed()


def _send(client, **data):
    with mock.patch("sandbox.payloads.post_webhook", return_value=200) as post:
        response = client.post("/sandbox/control/message", data=json.dumps(data), content_type="application/json")
    return response, post


def test_a_customer_writes_to_a_page_with_a_signed_webhook(client):
    response, post = _send(client, page_id=BAKERY, text="Is the shop open?")
    assert response.status_code == 200
    (url, body, secret), _ = post.call_args
    assert url == settings.SANDBOX_WEBHOOK_URL and secret == settings.FACEBOOK_APP_SECRET
    sent = json.loads(body)
    item = sent["entry"][0]["messaging"][0]
    assert sent["object"] == "page" and sent["entry"][0]["id"] == BAKERY
    assert item["message"]["text"] == "Is the shop open?"
    assert item["sender"]["id"] == response.json()["psid"]
    customer = Customer.objects.get(psid=response.json()["psid"])
    assert customer.page.page_id == BAKERY and customer.last_message_at is not None
    assert customer.first_name  # a customer with a name, whose profile lookup answers
    # The next test message comes from the same customer.
    assert _send(client, page_id=BAKERY)[0].json()["psid"] == customer.psid


def test_an_instagram_account_gets_its_own_customer(client):
    response, post = _send(client, page_id=BAKERY_INSTAGRAM)
    assert response.status_code == 200
    sent = json.loads(post.call_args.args[1])
    assert sent["object"] == "instagram" and sent["entry"][0]["id"] == BAKERY_INSTAGRAM
    assert Customer.objects.get(psid=response.json()["psid"]).platform == Customer.Platform.INSTAGRAM


def test_an_unknown_page_or_an_unreachable_receiver_is_said(client):
    response, post = _send(client, page_id="999")
    assert response.status_code == 400 and not post.called
    with mock.patch("sandbox.payloads.post_webhook", side_effect=ConnectionError("refused")):
        down = client.post("/sandbox/control/message", data=json.dumps({"page_id": BAKERY}),
                           content_type="application/json")
    assert down.status_code == 502 and "could not be delivered" in down.json()["error"]
