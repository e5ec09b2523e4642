"""Where the development server is actually served, for the sandbox URLs (docs/serving.md).

The sandbox lives under /sandbox/ of the same server, so the Graph API base URL, the OAuth dialog
and the address the sandbox posts its webhooks to all follow SITE_URL. `manage.py runserver`
(sandbox/management/commands/runserver.py) knows the address it binds: it points every one of these
settings that was not set explicitly at that address, and records it per database under var/ so
`simulate_customer` (another process) finds the running server on any port.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings

# The settings derived from SITE_URL in config/settings/sandbox.py.
URL_SETTINGS = ("SITE_URL", "FACEBOOK_GRAPH_URL", "FACEBOOK_DIALOG_URL", "SANDBOX_WEBHOOK_URL")
# A server bound to every interface is reached on the loopback one.
WILDCARD_HOSTS = {"0.0.0.0": "127.0.0.1",  # noqa: S104 (a lookup, not a bind)
                  "0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}


def sandbox_urls(site_url: str, graph_version: str) -> dict[str, str]:
    base = site_url.rstrip("/")
    return {
        "SITE_URL": base,
        "FACEBOOK_GRAPH_URL": f"{base}/sandbox/graph/{graph_version}",
        "FACEBOOK_DIALOG_URL": f"{base}/sandbox/dialog/oauth",
        "SANDBOX_WEBHOOK_URL": f"{base}/webhooks/facebook/",
    }


def served_url(addr: str, port: int | str, *, protocol: str = "http") -> str:
    host = WILDCARD_HOSTS.get(addr, addr)
    if ":" in host:
        host = f"[{host.strip('[]')}]"
    return f"{protocol}://{host}:{port}"


def derived_url_settings() -> set[str]:
    """The URL settings the served address may set: none when SITE_URL was given (the others
    follow it already), else those not given explicitly (environment or .env)."""
    explicit = set(getattr(settings, "SANDBOX_EXPLICIT_URLS", ()))
    return set() if "SITE_URL" in explicit else set(URL_SETTINGS) - explicit


def apply_served_url(url: str) -> dict[str, str]:
    """Point the URL settings that were not set explicitly at ``url``; returns what changed."""
    derived = derived_url_settings()
    changed = {
        name: value for name, value in sandbox_urls(url, settings.FACEBOOK_GRAPH_VERSION).items()
        if name in derived and getattr(settings, name, None) != value
    }
    replaced_origins = {_origin(getattr(settings, name, "")) for name in ("SITE_URL", "FACEBOOK_GRAPH_URL")
                        if name in changed}
    for name, value in changed.items():
        setattr(settings, name, value)
    if replaced_origins and hasattr(settings, "MEDIA_FETCH_LOCAL_ORIGINS"):
        # The sandbox's media and profile pictures come from the served origin now (social/safe_fetch.py).
        kept = [origin for origin in settings.MEDIA_FETCH_LOCAL_ORIGINS if origin not in replaced_origins]
        settings.MEDIA_FETCH_LOCAL_ORIGINS = list(dict.fromkeys([*kept, _origin(url)]))
    providers = getattr(settings, "SOCIALACCOUNT_PROVIDERS", None) or {}
    if changed and "facebook" in providers:
        # social/facebook_login reads the URLs above per request; allauth's copy is kept in step.
        settings.SOCIALACCOUNT_PROVIDERS = {**providers, "facebook": {
            **providers["facebook"], "GRAPH_API_URL": settings.FACEBOOK_GRAPH_URL,
            "AUTHORIZE_URL": settings.FACEBOOK_DIALOG_URL,
        }}
    return changed


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _record_path() -> Path:
    database = settings.DATABASES["default"]
    identity = "|".join(str(database.get(key) or "") for key in ("ENGINE", "NAME", "HOST", "PORT"))
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    return Path(settings.BASE_DIR) / "var" / "runserver" / f"{digest}.json"


def record_served_url(url: str) -> Path:
    """Note, for other processes on the same database, that this process serves ``url``."""
    path = _record_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"url": url, "pid": os.getpid()}))
    tmp.replace(path)
    return path


def forget_served_url() -> None:
    """Remove this process's record (another server may have replaced it since: leave that one)."""
    path = _record_path()
    with contextlib.suppress(OSError, ValueError):
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()


def recorded_served_url() -> str | None:
    """The URL a running server of this database recorded, or None (none, or its process is gone)."""
    try:
        record = json.loads(_record_path().read_text())
        url, pid = str(record["url"]), int(record["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, another user's
    return url


def current_urls() -> dict[str, str]:
    """The URL settings as a process that is not the server should use them: those not set
    explicitly follow the running server of this database, when there is one."""
    urls = {name: getattr(settings, name, "") for name in URL_SETTINGS}
    recorded = recorded_served_url()
    if recorded:
        derived = derived_url_settings()
        urls.update({
            name: value for name, value in sandbox_urls(recorded, settings.FACEBOOK_GRAPH_VERSION).items()
            if name in derived
        })
    return urls
