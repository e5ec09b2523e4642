from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from allauth.socialaccount.providers.facebook.views import FacebookOAuth2Adapter as AllauthFacebookOAuth2Adapter
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView
from allauth.utils import get_request_param
from django.conf import settings
from django.utils import timezone

from social.graph import GraphAPIError, graph_url
from social.services import graph_client, user_token_from_code

if TYPE_CHECKING:
    from django.http import HttpRequest

logger = logging.getLogger(__name__)


class FacebookOAuth2Adapter(AllauthFacebookOAuth2Adapter):
    @property
    def authorize_url(self) -> str:
        return settings.FACEBOOK_DIALOG_URL

    @property
    def access_token_url(self) -> str:
        return f"{graph_url()}/oauth/access_token"

    def get_access_token_data(self, request: HttpRequest, app, client, pkce_code_verifier=None) -> dict:
        # allauth stops at the short-lived token in this flow; we exchange it for a long-lived one (§14.2).
        code = get_request_param(request, "code")
        try:
            user_token = user_token_from_code(code=code, redirect_uri=client.callback_url)
        except GraphAPIError as exc:
            raise OAuth2Error(f"Facebook refused the sign-in: {exc.message}") from exc
        self.did_fetch_access_token = True
        data: dict[str, str | int] = {"access_token": user_token.token}
        if user_token.expires_at:
            data["expires_in"] = int((user_token.expires_at - timezone.now()).total_seconds())
        return data

    def complete_login(self, request: HttpRequest, app, token, **kwargs):
        provider = self.get_provider()
        try:
            profile = graph_client(access_token=token.token).get("me", {"fields": ",".join(provider.get_fields())})
        except GraphAPIError as exc:
            raise OAuth2Error(f"Facebook refused the profile: {exc.message}") from exc
        # Not kept for the Page picker: signing in grants no Page permission (FACEBOOK_SIGNIN_SCOPES),
        # connecting Pages asks for those in its own dialog.
        return provider.sociallogin_from_response(request, profile)


oauth2_login = OAuth2LoginView.adapter_view(FacebookOAuth2Adapter)
oauth2_callback = OAuth2CallbackView.adapter_view(FacebookOAuth2Adapter)
