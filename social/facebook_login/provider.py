from __future__ import annotations

from allauth.socialaccount.providers.facebook.provider import FacebookProvider as AllauthFacebookProvider

from social.facebook_login.views import FacebookOAuth2Adapter


class FacebookProvider(AllauthFacebookProvider):
    oauth2_adapter_class = FacebookOAuth2Adapter
