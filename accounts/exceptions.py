from __future__ import annotations


class AccountsError(Exception):
    """A business rule refused the request; the message is safe to show to the user."""
