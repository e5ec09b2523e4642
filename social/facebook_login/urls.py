from __future__ import annotations

from allauth.socialaccount.providers.oauth2.urls import default_urlpatterns

from social.facebook_login.provider import FacebookProvider

# /accounts/facebook/login/ and /accounts/facebook/login/callback/, named facebook_login / facebook_callback.
urlpatterns = default_urlpatterns(FacebookProvider)
