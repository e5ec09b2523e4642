"""allauth hooks: allauth handles sign-in only; connecting pages is social/services.py's job."""

from __future__ import annotations

from typing import TYPE_CHECKING

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.conf import settings

if TYPE_CHECKING:
    from django.http import HttpRequest


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return getattr(settings, "ACCOUNT_ALLOW_REGISTRATION", True)


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
