"""Each person's time zone and clock: chosen on the profile page, handed to the page's script on <body>."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.exceptions import AccountsError
from accounts.forms import ProfileForm
from accounts.services import user_clock_set

pytestmark = pytest.mark.django_db


def _client(client, user, business):
    from accounts.middleware import SESSION_KEY

    client.force_login(user)
    session = client.session
    session[SESSION_KEY] = business.pk
    session.save()
    return client


# --- the form ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("zone", "clock"), [("Europe/Rome", "24"), ("America/New_York", "12"), ("", ""), ("UTC", "")])
def test_the_profile_form_takes_a_real_zone_and_a_clock(zone, clock):
    form = ProfileForm({"name": "Giulia", "time_zone": zone, "clock": clock})
    assert form.is_valid(), form.errors
    assert (form.cleaned_data["time_zone"], form.cleaned_data["clock"]) == (zone, clock)


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "europe/rome", "../../etc/passwd", "Europe/Rome ", "x" * 300])
def test_the_profile_form_refuses_a_zone_that_does_not_exist(zone):
    form = ProfileForm({"name": "Giulia", "time_zone": zone, "clock": ""})
    assert not form.is_valid()
    assert "time_zone" in form.errors


@pytest.mark.parametrize("clock", ["13", "am", "2"])
def test_the_profile_form_refuses_another_clock(clock):
    form = ProfileForm({"name": "Giulia", "time_zone": "", "clock": clock})
    assert not form.is_valid()
    assert "clock" in form.errors


def test_the_service_refuses_another_clock_too(member):
    with pytest.raises(AccountsError):
        user_clock_set(user=member, time_zone="", clock="25")


# --- the page ------------------------------------------------------------------------------------------


def test_the_profile_page_saves_the_zone_and_clock_and_the_pages_carry_them(client, business, member):
    client = _client(client, member, business)
    response = client.post(reverse("accounts:profile"), {"name": "Giulia", "time_zone": "Asia/Tokyo", "clock": "12"})
    assert response.status_code == 302
    member.refresh_from_db()
    assert (member.time_zone, member.clock, member.name) == ("Asia/Tokyo", "12", "Giulia")
    form_html = client.get(reverse("accounts:profile")).content.decode()
    assert '<option value="Asia/Tokyo" selected>' in form_html
    inbox_html = client.get(reverse("inbox:conversation_list")).content.decode()
    assert 'data-time-zone="Asia/Tokyo" data-clock="12"' in inbox_html


def test_a_bad_zone_on_the_page_changes_nothing(client, business, member):
    client = _client(client, member, business)
    response = client.post(reverse("accounts:profile"), {"name": "Giulia", "time_zone": "Nowhere/Land", "clock": "24"})
    assert response.status_code == 200
    assert "time_zone" in response.context["form"].errors
    member.refresh_from_db()
    assert (member.time_zone, member.clock) == ("", "")


def test_blank_means_the_browser_decides(client, business, member):
    member.time_zone, member.clock = "Europe/Rome", "24"
    member.save()
    client = _client(client, member, business)
    client.post(reverse("accounts:profile"), {"name": "", "time_zone": "", "clock": ""})
    member.refresh_from_db()
    assert (member.time_zone, member.clock) == ("", "")
    assert 'data-time-zone="" data-clock=""' in client.get(reverse("inbox:conversation_list")).content.decode()
