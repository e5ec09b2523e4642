"""The sandbox's made-up customers: page-scoped ids, names of their own, and pictures worth showing."""

from __future__ import annotations

import struct

import pytest
from django.core.management import CommandError, call_command

from sandbox import models as sb
from sandbox.customers import customer_name, default_psid
from sandbox.graph import PsidOfAnotherPage, customer_message_received
from sandbox.images import picture_png
from sandbox.seed import seed
from sandbox.tests.test_graph_api import BAKERY, BAKERY_IG, call, exchange, login_code, long_lived, page_token

pytestmark = pytest.mark.django_db
CATERING = "104857600234567"


@pytest.fixture(autouse=True)
def _seeded(db):
    seed()
    sb.Config.objects.update_or_create(pk=1, defaults={"send_receipts": False})


def test_the_default_customer_has_its_own_id_on_every_page():
    ids = {
        default_psid(BAKERY, instagram=False),
        default_psid(CATERING, instagram=False),
        default_psid(BAKERY_IG, instagram=True),
    }
    assert len(ids) == 3
    assert all(len(psid) == 16 and psid.isdigit() for psid in ids)
    assert default_psid(CATERING, instagram=False) == default_psid(CATERING, instagram=False)  # stable
    assert default_psid(BAKERY_IG, instagram=True).startswith("98")


def test_two_pages_default_customers_each_answer_their_own_pages_profile_lookup(client):
    """The README's walk-through: a message to the demo page, then one to a page connected by
    clicking. Each page's token looks up its own customer, who has a real, different name."""
    user = long_lived(client, exchange(client, login_code(client, pages=[BAKERY, CATERING]))["access_token"])
    names = {}
    for page_id in (BAKERY, CATERING):
        psid = default_psid(page_id, instagram=False)
        customer_message_received(psid=psid, page_id=page_id)
        response = call(
            client, "GET", psid, page_token(client, user, page_id), params={"fields": "first_name,last_name"}
        )
        assert response.status_code == 200, response.content
        names[page_id] = f"{response.json()['first_name']} {response.json()['last_name']}"
    assert names[BAKERY] != names[CATERING]
    assert not any(name.startswith("Customer") for name in names.values())


def test_a_psid_of_another_page_is_refused_not_moved():
    psid = default_psid(BAKERY, instagram=False)
    customer_message_received(psid=psid, page_id=BAKERY)
    with pytest.raises(PsidOfAnotherPage):
        customer_message_received(psid=psid, page_id=CATERING)
    assert sb.Customer.objects.get(psid=psid).page.page_id == BAKERY
    customer_message_received(psid=psid, page_id=BAKERY_IG.replace("1784", "0000"))  # unknown account: no change
    customer_message_received(psid=psid)  # without a page: the known customer wrote again
    assert sb.Customer.objects.filter(psid=psid).count() == 1


def test_simulate_customer_explains_a_psid_of_another_page(settings):
    customer_message_received(psid="7000000000000042", page_id=BAKERY)
    with pytest.raises(CommandError, match="different id on every Page"):
        call_command(
            "simulate_customer",
            "--url",
            "http://127.0.0.1:9/webhooks/facebook/",
            "--page",
            CATERING,
            "--psid",
            "7000000000000042",
        )


def test_names_are_stable_differ_between_customers_and_never_repeat_on_a_page():
    assert customer_name("7000000000000001") == customer_name("7000000000000001")
    first, last = customer_name("7000000000000001")
    assert customer_name("7000000000000001", taken={f"{first} {last}"}) == (first, f"{last} 0001")
    # Sixty customers of one page: sixty different names, however the hashes fall.
    psids = [f"70000000000{n:05d}" for n in range(60)]
    for psid in psids:
        customer_message_received(psid=psid, page_id=BAKERY)
    names = [c.name for c in sb.Customer.objects.filter(psid__in=psids)]
    assert len(set(names)) == 60
    assert not any(name.startswith("Customer ") for name in names)


def test_an_instagram_customer_gets_a_name_and_a_username():
    psid = default_psid(BAKERY_IG, instagram=True)
    customer_message_received(psid=psid, page_id=BAKERY_IG)
    customer = sb.Customer.objects.get(psid=psid)
    assert customer.platform == sb.Customer.Platform.INSTAGRAM
    assert customer.first_name and customer.username == customer.username.lower() and "." in customer.username


def _png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    return struct.unpack(">II", data[16:24])


def test_photos_and_profile_pictures_are_real_sized_images(client):
    assert _png_size(client.get("/sandbox/cdn/cake.png").content) == (480, 360)
    assert _png_size(client.get("/sandbox/media/photo.jpg").content) == (480, 360)
    assert _png_size(client.get("/sandbox/cdn/avatar-7012345678901234.png").content) == (96, 96)
    assert picture_png("cake.png") != picture_png("croissant.png")  # colours follow the name
    assert picture_png("cake.png") == picture_png("cake.png")


def test_the_dialog_may_send_the_person_back_to_the_products_origin(client):
    """Beside the production stack the product is another origin: the dialog's form-action allows it."""
    response = client.get(
        "/sandbox/dialog/oauth",
        {
            "client_id": "100000000000001",
            "redirect_uri": "https://127.0.0.1:9443/social/connect/callback/",
            "state": "s",
            "scope": "pages_show_list",
            "user": "10215241773831025",
        },
    )
    policy = response["Content-Security-Policy"]
    form_action = next(part for part in policy.split(";") if part.strip().startswith("form-action"))
    assert "'self'" in form_action and "https://127.0.0.1:9443" in form_action
    assert "https://evil.example" not in policy
