from __future__ import annotations


class AccountsError(Exception):
    """A business rule refused the request; the message is safe to show to the user."""


class RoleCeilingError(AccountsError):
    """The acting member's role does not allow this change (e.g. an admin touching an owner)."""


class InvitationGone(AccountsError):
    """The invitation link can no longer be used: accepted, revoked or expired."""
