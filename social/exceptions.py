"""Domain errors of connected accounts; their messages are safe to show to staff."""

from __future__ import annotations


class SocialError(Exception):
    """A rule about connected accounts refused the request."""


class ConnectRefused(SocialError):
    """One Page or Instagram account cannot be connected; the message says why and what to do."""

    def __init__(self, message: str, *, account_id: str = "", name: str = "") -> None:
        super().__init__(message)
        self.account_id = account_id
        self.name = name
