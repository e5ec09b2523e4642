"""What happens around each Graph call: hold calls near Meta's usage limit, audit every call.

The transport (`social.graph`) only reports calls; `social.services.graph_client` hands it a
`GraphCallRecorder` whose `before_call` holds calls back while Meta's usage is near its limit and
whose `__call__` notes the usage headers, audits the call ("graph.call", never a token) and tells
its owner when the client's own token turned out invalid.

The hold is a cache entry per scope ("app", or a Page id) shared by every process, set from the
usage headers (§12) and from a rate-limit answer; a held call raises `RateLimitError` at once, which
a task retries after the hold.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.core.cache import cache
from django.db import transaction

from social.graph import (
    DEFAULT_RETRY_AFTER_SECONDS,
    USAGE_STOP_PERCENT,
    GraphCall,
    RateLimitError,
    TokenInvalidError,
)

if TYPE_CHECKING:
    from accounts.models import Business, User
    from social.models import SocialAccount

logger = logging.getLogger(__name__)


# THE HOLD
# ------------------------------------------------------------------------------
def _throttle_key(scope: str) -> str:
    return f"social.graph.throttle:{scope}"


def throttle(scope: str, seconds: int) -> None:
    """Hold calls of ``scope`` ("app" or a Page id) for ``seconds``."""
    seconds = max(1, int(seconds))
    cache.set(_throttle_key(scope), time.time() + seconds, timeout=seconds)


def throttled_for(scope: str) -> int:
    """Seconds calls of ``scope`` are still held, 0 when they are not."""
    until = cache.get(_throttle_key(scope))
    return max(0, int(until - time.time()) + 1) if until else 0


# THE RECORDER
# ------------------------------------------------------------------------------
class GraphCallRecorder:
    """The hooks of one client: built for a business, an acting user and the account it calls for."""

    def __init__(
        self,
        *,
        business: Business | None = None,
        actor: User | None = None,
        account: SocialAccount | None = None,
        on_token_invalid: Callable[[SocialAccount, TokenInvalidError], None] | None = None,
    ) -> None:
        self.business = business
        self.actor = actor
        self.account = account
        self.on_token_invalid = on_token_invalid

    @property
    def _page_scope(self) -> str | None:
        return self.account.send_account.account_id if self.account is not None else None

    def before_call(self) -> None:
        for scope in ("app", self._page_scope):
            if scope is None:
                continue
            wait = throttled_for(scope)
            if wait:
                raise RateLimitError(f"Holding Graph calls for {scope}: Meta's usage limit was reached.",
                                     retry_after=wait)

    def __call__(self, call: GraphCall) -> None:
        self._note_usage(call)
        if isinstance(call.error, RateLimitError):
            page = self._page_scope
            throttle("app" if call.error.code in (4, None) or page is None else page, call.error.retry_after)
        self._audit(call)
        if (isinstance(call.error, TokenInvalidError) and call.own_token and self.account is not None
                and self.on_token_invalid is not None):
            try:
                self.on_token_invalid(self.account, call.error)
            except Exception:  # the caller must still see the Graph error, not ours
                logger.exception("Could not mark account %s as needing reconnection", self.account.pk)

    def _note_usage(self, call: GraphCall) -> None:
        usage = call.usage
        wait = usage.regain_seconds or DEFAULT_RETRY_AFTER_SECONDS
        if usage.app_percent >= USAGE_STOP_PERCENT:
            throttle("app", wait)
        for object_id in usage.blocked_ids:
            throttle(object_id, wait)

    def _audit(self, call: GraphCall) -> None:
        from accounts.services import audit_record

        metadata: dict[str, Any] = {
            "method": call.method, "path": call.path, "status": call.status, "duration_ms": call.duration_ms,
        }
        if call.kind != "graph":
            metadata["kind"] = call.kind
        if call.fields:
            metadata["fields"] = call.fields
        if self.account is not None:
            metadata["account_id"] = self.account.account_id
        if call.error is not None:
            metadata.update(error_code=call.error.code, error_subcode=call.error.subcode,
                            fbtrace_id=call.error.fbtrace_id, error=call.error_class)
        try:
            # A savepoint, so a failed audit write never poisons the caller's transaction.
            with transaction.atomic():
                audit_record(
                    action="graph.call", business=self.business, actor=self.actor,
                    target_type="social.socialaccount" if self.account is not None else "",
                    target_id=self.account.pk if self.account is not None else "",
                    metadata=metadata,
                )
        except Exception:  # the call's outcome matters more than its audit row
            logger.exception("Could not record the audit event of a Graph call")
