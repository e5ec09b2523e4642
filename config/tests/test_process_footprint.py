"""What an ASGI worker (webhooks and sockets) loads when it starts: no library it may never use.

Measured per worker (bench/README.md): ninja and pydantic ~12 MiB, the URLconf with every view and
the API ~17 MiB, cryptography's Rust extension ~8 MiB. (A Celery worker runs Django's system checks
at start, which load the URLconf: it renders pushes with links anyway.)
"""

from __future__ import annotations

import json
import subprocess
import sys

from config.tests.test_settings import PRODUCTION_ENV, ROOT, clean_environ

# Loaded on use only: the API's URLs (a WSGI worker's first reverse()), a token's encryption.
NOT_AT_START = ("ninja", "pydantic", "config.urls", "api.api", "cryptography.hazmat.bindings._rust")


def _loaded(code: str) -> list[str]:
    """Which of NOT_AT_START a production process has loaded after running ``code``."""
    probe = f"import json, sys\n{code}\nprint(json.dumps(sorted(m for m in {NOT_AT_START!r} if m in sys.modules)))"
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env={**clean_environ(), **PRODUCTION_ENV},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_an_asgi_worker_starts_without_the_api_the_urlconf_or_cryptography():
    assert _loaded("import config.asgi") == []


def test_the_probe_sees_them_once_used():
    """The control: the same probe reports them after a reverse() and a token's encryption."""
    used = "import config.asgi\nfrom django.urls import reverse; reverse('api_docs')\nfrom social.crypto import encrypt; encrypt('x')"
    assert _loaded(used) == sorted(NOT_AT_START)
