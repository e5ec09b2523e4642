"""allauth hooks: allauth handles sign-in only; connecting pages is social/services.py's job."""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.conf import settings
from django.utils.encoding import force_str

from accounts.emails import PRODUCT_NAME

if TYPE_CHECKING:
    from django.http import HttpRequest


def branded_site() -> SimpleNamespace:
    """What allauth's email templates print as `current_site`: the product and SITE_URL's host.

    The Sites framework's row says "example.com" unless an operator edits it; emails must not.
    """
    return SimpleNamespace(name=PRODUCT_NAME, domain=urlsplit(settings.SITE_URL).netloc or PRODUCT_NAME)


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return getattr(settings, "ACCOUNT_ALLOW_REGISTRATION", True)

    def format_email_subject(self, subject: str) -> str:
        return f"[{PRODUCT_NAME}] {force_str(subject)}"

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        super().send_mail(template_prefix, email, {**context, "current_site": branded_site()})


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest, sociallogin) -> bool:
        return getattr(settings, "ACCOUNT_ALLOW_REGISTRATION", True)

    def get_requests_session(self):
        # allauth's own Graph calls (code exchange, /me) share our timeouts.
        import requests

        session = requests.Session()
        session.request = _with_timeout(session.request)
        return session


def _with_timeout(request):
    def call(*args, **kwargs):
        kwargs.setdefault("timeout", settings.GRAPH_API_TIMEOUT)
        return request(*args, **kwargs)

    return call
