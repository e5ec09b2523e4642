"""Signals of connected accounts, for the apps above `social` (which `social` never imports).

``account_connected(sender=SocialAccount, account=...)``: a Page or Instagram account was connected
or reconnected; sent after the transaction committed. The inbox replays the webhook events that
arrived for it before (inbox/signals.py).
"""

from __future__ import annotations

from django.dispatch import Signal

account_connected = Signal()

# ``account_needs_reconnect(sender=SocialAccount, business_id=..., ids=[account id])``: Meta revoked an
# account's token or a permission, so it must be reconnected; sent after commit (outbound webhooks).
account_needs_reconnect = Signal()
