"""`make prod` without a real Meta app: the demo owner, business and connected sandbox page.

Runs under the stack's own settings (config.settings.production, where the sandbox app is not
installed) after the stack and the sandbox server are up. The owner and the business are made by
the product's services; the page is connected through the real connect flow over HTTP, as staff
would connect it: the sandbox server's Login dialog (a form, CSRF token and all) gives a code, and
the connect services exchange it and read the pages through the sandbox's Graph API at
FACEBOOK_GRAPH_URL. Safe to run again: what exists is kept. Prints `conversations: N` so
scripts/prod.sh sends the demo's customer messages (as webhooks, through the proxy) only once.

Mirrors `seed_demo` (sandbox/demo.py), which does the same in one process for `make run`.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import requests

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-password"  # the documented demo login of a local trial
DEMO_BUSINESS = "Bakery Rossi"
PAGE_ID = "104857600123456"
INSTAGRAM_ID = "17841400000000000"
PAGE_OWNER_FB_ID = "10215241773831025"  # Marco Rossi in the sandbox (sandbox/seed.py)


class DemoError(Exception):
    pass


def dialog_code(*, dialog_url: str, app_id: str, redirect_uri: str, scopes: list[str]) -> str:
    """Go through the sandbox's Login dialog as Marco Rossi granting Bakery Rossi; return the code."""
    session = requests.Session()
    params = {"client_id": app_id, "redirect_uri": redirect_uri, "state": "make-prod-demo",
              "scope": ",".join(scopes), "response_type": "code", "user": PAGE_OWNER_FB_ID}
    page = session.get(dialog_url, params=params, timeout=10)
    page.raise_for_status()
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    if not match:
        raise DemoError(f"The sandbox dialog at {dialog_url} shows no form.")
    answer = session.post(dialog_url, data={**params, "csrfmiddlewaretoken": match.group(1), "pages": [PAGE_ID],
                                            "scopes": scopes}, allow_redirects=False, timeout=10)
    location = answer.headers.get("Location", "")
    code = parse_qs(urlsplit(location).query).get("code", [""])[0]
    if answer.status_code != 302 or not code:
        raise DemoError(f"The sandbox dialog answered {answer.status_code} without a code ({location or 'no redirect'}).")
    return code


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.urls import reverse

    from accounts.models import Membership
    from accounts.services import business_create, email_address_mark_verified
    from inbox.models import Conversation
    from social.models import Platform, SocialAccount
    from social.services import accounts_connect, user_token_extend, user_token_from_code

    user, created = get_user_model().objects.get_or_create(
        email=DEMO_EMAIL, defaults={"name": "Demo Owner", "is_staff": True, "is_superuser": True}
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    # Email verification is mandatory: the demo login must work at once.
    email_address_mark_verified(user=user)
    membership = Membership.objects.filter(user=user, business__name=DEMO_BUSINESS).select_related("business").first()
    business = membership.business if membership else business_create(name=DEMO_BUSINESS, owner=user)

    connected = SocialAccount.objects.for_business(business).filter(
        account_id=PAGE_ID, platform=Platform.FACEBOOK).exists()
    if not connected:
        redirect_uri = settings.SITE_URL.rstrip("/") + reverse("social:connect_callback")
        code = dialog_code(dialog_url=settings.FACEBOOK_DIALOG_URL, app_id=str(settings.FACEBOOK_APP_ID),
                           redirect_uri=redirect_uri, scopes=list(settings.FACEBOOK_LOGIN_SCOPES))
        short = user_token_from_code(code=code, redirect_uri=redirect_uri, business=business, actor=user)
        long_lived = user_token_extend(token=short.token, business=business, actor=user)
        result = accounts_connect(business=business, actor=user, user_token=long_lived, page_ids=[PAGE_ID],
                                  instagram_ids=[INSTAGRAM_ID])
        if result.refused:
            raise DemoError("; ".join(str(r) for r in result.refused))
    print(f"Demo: business {business.name!r}, login {DEMO_EMAIL}, page {PAGE_ID} "
          f"{'already connected' if connected else 'connected through the sandbox'}.")
    print(f"conversations: {Conversation.objects.for_business(business).count()}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (DemoError, requests.RequestException) as exc:
        print(f"prod_demo: {exc}", file=sys.stderr)
        sys.exit(1)
