"""Development only: ask the Messenger sandbox, standing in for Meta, to send a page a customer's message.

The product knows the sandbox only as Meta: by the Graph URL it is configured with. When that URL is
the sandbox's (`…/sandbox/graph/vXX.X`), the sandbox's control API sits beside it; with the real Meta
there is none, and the check is not offered.
"""

from __future__ import annotations

import requests
from django.conf import settings

from social.models import SocialAccount

GRAPH_MARKER = "/sandbox/graph/"
TIMEOUT_SECONDS = 10


class SandboxUnavailable(Exception):
    """The test message could not be sent; the message says why, in words for staff."""


def sandbox_base_url() -> str | None:
    graph = str(getattr(settings, "FACEBOOK_GRAPH_URL", ""))
    if GRAPH_MARKER not in graph:
        return None
    return graph.split(GRAPH_MARKER, 1)[0] + "/sandbox/"


def test_message_send(*, account: SocialAccount, text: str = "") -> None:
    base = sandbox_base_url()
    if base is None:
        raise SandboxUnavailable("Meta is not the sandbox here: send a message to the page from Messenger instead.")
    payload = {
        "page_id": account.account_id,
        "text": text or f"Test message to {account.account_name or account.account_id}",
    }
    try:
        response = requests.post(f"{base}control/message", json=payload, timeout=TIMEOUT_SECONDS)
    except requests.RequestException as exc:
        raise SandboxUnavailable("the sandbox did not answer.") from exc
    if response.status_code != 200:
        raise SandboxUnavailable(f"the sandbox answered {response.status_code} ({response.text[:200]}).")
