"""Where the browser tier runs: a live server forked by the test process, or the production stack.

Without ``E2E_STACK_URL`` the tests fork a daphne live server on a test database, with the Messenger
sandbox inside it (test_browser.py). With ``E2E_STACK_URL`` (what ``make prod`` printed after READY,
e.g. ``https://127.0.0.1:8443``) they drive that stack instead, through its proxy, so the browser
meets nginx, TLS, gunicorn's WSGI and ASGI workers, Celery and Redis as production runs them:

- **data** is created with the ORM in the stack's own database: run pytest with the ``DATABASE_URL``
  and ``REDIS_URL`` the stack got. No test database is created (conftest.py overrides
  ``django_db_setup``); each test's businesses and users get unique slugs and emails and are deleted
  after the test, with the webhook events of the sandbox pages the tests use;
- **secrets** come from the env file the stack wrote (``E2E_STACK_ENV``, default
  ``$PROD_VAR/prod.env``, i.e. ``var/prod.env``): ``DJANGO_SECRET_KEY`` signs the sessions the tests
  create, ``FIELD_ENCRYPTION_KEYS`` encrypts the page tokens the stack's worker decrypts,
  ``FACEBOOK_APP_SECRET`` signs the customers' webhooks;
- **Meta** is the stack's sandbox server (``E2E_SANDBOX_URL``, default
  ``http://127.0.0.1:$PROD_SANDBOX_PORT``, port 8003), reached over HTTP only since its database is its
  own: page tokens through its OAuth dialog, its configuration and the sent messages through its
  control endpoints;
- **attachments** the tests store go to the stack's ``MEDIA_ROOT`` (default ``$PROD_VAR/media``).

The stack must not hold the sandbox pages the tests connect (Bakery Rossi, Other Shop): start it with
``PROD_SEED_DEMO=0``, whose demo business would connect Bakery Rossi. One browser tier at a time per
stack: each test first deletes what a crashed run left (businesses with the ``e2e-`` slug prefix).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import IntegrityError, OperationalError, transaction

STACK_URL = os.environ.get("E2E_STACK_URL", "").strip().rstrip("/")
EXTERNAL = bool(STACK_URL)
ROOT = Path(__file__).resolve().parents[3]
GRAPH_VERSION = "v25.0"
# Businesses the tests create on a stack carry this slug prefix, so a crashed run's leftovers are found.
SLUG_PREFIX = "e2e-"
TIMEOUT = 10


class StackError(RuntimeError):
    """The stack cannot be used as configured; the message says what to set."""


def _var_dir() -> Path:
    var = Path(os.environ.get("PROD_VAR", "var"))
    return var if var.is_absolute() else ROOT / var


def env_file() -> Path:
    return Path(os.environ.get("E2E_STACK_ENV") or _var_dir() / "prod.env")


def sandbox_url() -> str:
    return os.environ.get("E2E_SANDBOX_URL", f"http://127.0.0.1:{os.environ.get('PROD_SANDBOX_PORT', '8003')}").rstrip("/")


def media_root() -> str:
    return os.environ.get("E2E_STACK_MEDIA_ROOT") or os.environ.get("MEDIA_ROOT") or str(_var_dir() / "media")


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines (prod.sh writes them unquoted); comments and blank lines are skipped."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        key = key.removeprefix("export ").strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


SECRET_NAMES = ("DJANGO_SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "FACEBOOK_APP_SECRET")


def stack_secrets() -> dict[str, str]:
    """The stack's secrets: its env file's values, else this process's environment (a stack given them)."""
    path = env_file()
    from_file = read_env_file(path) if path.exists() else {}
    secrets = {name: from_file.get(name) or os.environ.get(name, "") for name in SECRET_NAMES}
    missing = [name for name, value in secrets.items() if not value]
    if missing:
        raise StackError(
            f"E2E_STACK_URL is set but {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} unknown: "
            f"neither in {path} (prod.sh's env file; E2E_STACK_ENV names another) nor in the environment."
        )
    return secrets


def settings_overrides() -> dict:
    """What this test process must share with the stack so the stack accepts what the tests create."""
    secrets = stack_secrets()
    return {
        "SECRET_KEY": secrets["DJANGO_SECRET_KEY"],
        "FIELD_ENCRYPTION_KEYS": [key.strip() for key in secrets["FIELD_ENCRYPTION_KEYS"].split(",") if key.strip()],
        "FACEBOOK_APP_SECRET": secrets["FACEBOOK_APP_SECRET"],
        # The trial stack's proxy has a self-signed certificate.
        "SANDBOX_WEBHOOK_VERIFY_TLS": False,
        "MEDIA_ROOT": media_root(),
        # The stack checks the passwords of the users the tests create (sign-in through the form).
        "PASSWORD_HASHERS": ["inbox.tests.e2e.stack.QuickPBKDF2PasswordHasher"],
    }


class QuickPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """Production's PBKDF2 with few iterations: a stored hash names its iterations, so the stack verifies
    it (and re-hashes it at full strength on sign-in), while creating users stays quick. The test
    settings' MD5 hasher is one the stack does not have."""

    iterations = 1_000


def run_tag() -> str:
    """A short unique tag for one test's names (slugs, emails)."""
    return uuid.uuid4().hex[:8]


def unique_email(email: str, tag: str) -> str:
    local, domain = email.split("@", 1)
    return f"{local}+e2e{tag}@{domain}"


# --------------------------------------------------------------------------------------------------
# The sandbox server, over HTTP
# --------------------------------------------------------------------------------------------------


def _session():
    import requests

    return requests.Session()


def sandbox_config(**changes) -> dict:
    """Read the sandbox's configuration, changing the given fields first (POST) when there are any."""
    session = _session()
    url = f"{sandbox_url()}/sandbox/control/config"
    response = session.post(url, json=changes, timeout=TIMEOUT) if changes else session.get(url, timeout=TIMEOUT)
    response.raise_for_status()
    return response.json()


def sandbox_customer_wrote(*, page_id: str, psid: str) -> None:
    """The customer wrote just now, as far as Meta knows: the 24-hour reply window is open."""
    response = _session().post(f"{sandbox_url()}/sandbox/control/customers", timeout=TIMEOUT,
                               json={"page_id": page_id, "psid": psid, "last_message_minutes_ago": 0})
    response.raise_for_status()


def sandbox_page_token(*, fb_id: str, page_id: str, app_id: str, app_secret: str, scopes: tuple[str, ...]) -> str:
    """A page token from the sandbox as the connect flow gets one: the OAuth dialog (as `fb_id`, granting
    `page_id`), the code exchanged for a user token, made long-lived, then /me/accounts."""
    base = f"{sandbox_url()}/sandbox"
    graph = f"{base}/graph/{GRAPH_VERSION}"
    redirect_uri = f"{STACK_URL or 'https://127.0.0.1'}/e2e/callback/"
    session = _session()
    query = {"client_id": app_id, "redirect_uri": redirect_uri, "scope": ",".join(scopes), "response_type": "code",
             "state": "e2e", "user": fb_id}
    form = session.get(f"{base}/dialog/oauth", params=query, timeout=TIMEOUT)
    form.raise_for_status()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
    if csrf is None:
        raise StackError(f"The sandbox's dialog at {base}/dialog/oauth shows no form (status {form.status_code}).")
    granted = session.post(f"{base}/dialog/oauth", allow_redirects=False, timeout=TIMEOUT, headers={"Referer": form.url},
                           data={**query, "csrfmiddlewaretoken": csrf.group(1), "pages": [page_id],
                                 "scopes": list(scopes), "allow": "1"})
    code = parse_qs(urlsplit(granted.headers.get("Location", "")).query).get("code")
    if not code:
        raise StackError(f"The sandbox's dialog granted no code (status {granted.status_code}): {granted.text[:300]}")
    app = {"client_id": app_id, "client_secret": app_secret}
    short = session.get(f"{graph}/oauth/access_token", timeout=TIMEOUT,
                        params={**app, "redirect_uri": redirect_uri, "code": code[0]}).json()
    long = session.get(f"{graph}/oauth/access_token", timeout=TIMEOUT,
                       params={**app, "grant_type": "fb_exchange_token", "fb_exchange_token": short["access_token"]})
    user_token = long.json()["access_token"]
    proof = hmac.new(app_secret.encode(), user_token.encode(), hashlib.sha256).hexdigest()
    pages = session.get(f"{graph}/me/accounts", timeout=TIMEOUT,
                        params={"access_token": user_token, "appsecret_proof": proof, "fields": "id,access_token"})
    for page in pages.json().get("data", []):
        if page["id"] == page_id:
            return page["access_token"]
    raise StackError(f"The sandbox gave {fb_id} no token for page {page_id}: {pages.text[:300]}")


# --------------------------------------------------------------------------------------------------
# The stack's database: what the tests create, and what they leave
# --------------------------------------------------------------------------------------------------


def check_reachable() -> None:
    """Fail early, with what to do, when the stack or its database is not the one configured."""
    import requests
    import urllib3
    from django.db import connection

    from inbox.models import WebhookEvent

    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)  # the trial's self-signed certificate
    try:
        status = requests.get(f"{STACK_URL}/accounts/login/", timeout=TIMEOUT, verify=False).status_code
    except requests.RequestException as exc:
        raise StackError(f"E2E_STACK_URL={STACK_URL} does not answer ({exc}): is `make prod` running?") from exc
    if status != 200:
        raise StackError(f"{STACK_URL}/accounts/login/ answered {status}, not 200.")
    if connection.vendor != "postgresql" or WebhookEvent._meta.db_table not in connection.introspection.table_names():
        raise StackError("DATABASE_URL is not the stack's migrated PostgreSQL database: give pytest the "
                         "DATABASE_URL (and REDIS_URL) that `make prod` was started with.")


DELETE_ATTEMPTS = 5


def delete_created(*, businesses, users, session_keys=(), page_ids=()) -> None:
    """Delete what one test created on the stack: its businesses (and everything under them), its users,
    its sessions, the files of its attachments, and the webhook events of the pages it used."""
    from django.contrib.sessions.models import Session
    from django.db.models import Q

    from accounts.models import Business, User
    from inbox.models import Attachment, WebhookEvent
    from social.models import SocialAccount

    business_ids = [b.pk for b in businesses if b is not None and b.pk]
    for attachment in Attachment.objects.filter(message__conversation__business_id__in=business_ids).exclude(file=""):
        attachment.file.delete(save=False)
    # The stack's workers may still be busy with these rows (a connected page's history import, a
    # profile lookup): a deadlock with them is retried, as the workers' own tasks retry theirs, and so is
    # a row they added under a business while it was being deleted (the foreign key fails at commit; the
    # next attempt's cascade finds the row).
    for attempt in range(1, DELETE_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                # A business's pages are PROTECTed (disconnecting is a deliberate act); their rows go first.
                SocialAccount.objects.filter(business_id__in=business_ids).delete()
                Business.objects.filter(pk__in=business_ids).delete()
                User.objects.filter(pk__in=[u.pk for u in users if u is not None and u.pk]).delete()
                Session.objects.filter(session_key__in=list(session_keys)).delete()
                if page_ids:
                    condition = Q()
                    for page_id in page_ids:
                        condition |= Q(account_ids__contains=[page_id]) | Q(unroutable_account_ids__contains=[page_id])
                    WebhookEvent.objects.filter(condition).delete()
            return
        except (OperationalError, IntegrityError) as exc:
            raced = "deadlock" in str(exc) or "foreign key" in str(exc)
            if not raced or attempt == DELETE_ATTEMPTS:
                raise
            time.sleep(0.5 * attempt)


def delete_leftovers(*, page_ids) -> None:
    """A crashed run's businesses and users (found by their e2e slug and email marks), and refuse pages
    that a business of the stack's own holds."""
    from accounts.models import Business, User
    from social.models import SocialAccount

    leftovers = list(Business.objects.filter(slug__startswith=SLUG_PREFIX))
    users = list(User.objects.filter(email__regex=r"\+e2e[0-9a-f]{8}@"))
    if leftovers or users:
        delete_created(businesses=leftovers, users=users, page_ids=page_ids)
    held = SocialAccount.objects.filter(account_id__in=page_ids).select_related("business")
    if held.exists():
        names = ", ".join(f"{a.account_name} ({a.business.name})" for a in held)
        raise StackError(f"The stack already has these sandbox pages connected: {names}. The browser tests connect "
                         "them to businesses of their own: start the stack with PROD_SEED_DEMO=0.")
