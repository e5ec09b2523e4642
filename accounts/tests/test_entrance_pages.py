"""Every sign-in page a person can reach is in the product's layout, and a form's errors sit under
the field they belong to."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.urls import reverse

pytestmark = pytest.mark.django_db


def _in_layout(html: str) -> None:
    assert 'class="topbar"' in html and "css/entrance.css" in html and 'class="card auth-card' in html


def _field(html: str, name: str) -> str:
    """The markup of one field's block (label, input, its errors)."""
    match = re.search(rf'<p class="auth-field[^"]*">(?:(?!</p>).)*name="{name}"(?:(?!</p>).)*</p>', html, re.S)
    assert match, f"no field {name}"
    return match.group(0)


def test_a_too_common_password_is_reported_under_the_password_not_the_email(client):
    html = client.post(
        reverse("account_signup"),
        {
            "email": "newcomer@shop.test",
            "password1": "password",
            "password2": "password",
        },
    ).content.decode()
    assert "too common" in _field(html, "password1")
    assert "too common" not in _field(html, "email")
    assert "field-error" not in _field(html, "email")
    password = _field(html, "password1")
    assert password.index('name="password1"') < password.index("too common")  # under the input
    assert 'aria-invalid="true"' in password


def test_sign_in_errors_are_said_once_above_the_fields(client, member):
    html = client.post(reverse("account_login"), {"login": member.email, "password": "wrong"}).content.decode()
    assert html.count('class="auth-alert"') == 1
    _in_layout(html)


@pytest.mark.parametrize(
    "name",
    [
        "account_reset_password",
        "account_reset_password_done",
        "account_login",
        "account_signup",
        "account_reset_password_from_key_done",
    ],
)
def test_the_pages_are_in_the_products_layout(client, name):
    _in_layout(client.get(reverse(name)).content.decode())


def test_a_bad_reset_link_and_a_bad_confirmation_link_say_what_to_do(client):
    bad_key = client.get(reverse("account_reset_password_from_key", kwargs={"uidb36": "1", "key": "x-y"}))
    html = bad_key.content.decode()
    _in_layout(html)
    assert "This link no longer works" in html and reverse("account_reset_password") in html
    html = client.get(reverse("account_confirm_email", args=["not-a-key"])).content.decode()
    _in_layout(html)
    assert "This link no longer works" in html


def test_the_whole_reset_walk_is_styled(client, member):
    client.post(reverse("account_reset_password"), {"email": member.email})
    link = re.search(r"https?://[^/\s]+(/accounts/password/reset/key/[^\s]+/)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    html = form_page.content.decode()
    _in_layout(html)
    assert "Choose a new password" in html and 'name="password1"' in html
    done = client.post(
        form_page.request["PATH_INFO"],
        {"password1": "a fresh 4 long pass", "password2": "a fresh 4 long pass"},
        follow=True,
    )
    html = done.content.decode()
    _in_layout(html)
    assert "Your password is changed" in html


def test_the_log_out_confirmation_is_styled(client_member):
    html = client_member.get(reverse("account_logout")).content.decode()
    _in_layout(html)
    assert "Log out of Social Inbox?" in html


def test_the_verification_sent_page_is_styled(client):
    response = client.post(
        reverse("account_signup"),
        {
            "email": "fresh@shop.test",
            "password1": "a fresh 4 long pass",
            "password2": "a fresh 4 long pass",
        },
        follow=True,
    )
    html = response.content.decode()
    _in_layout(html)
    assert "Confirm your email address" in html
