"""Celery tasks of the inbox: thin interfaces that load ids and call services.

Every task is idempotent (acks are late, so a killed worker's task runs again elsewhere). Retries
are Celery's (`config.tasks.RetryingTask`): a transient Meta error or an unavailable database is
retried with backoff, after Meta's own wait when it rate-limits; a task records a permanent failure
itself once `will_retry` says the failure was its last.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from celery import shared_task

from config.metrics import reply_outcome
from config.tasks import DATABASE_UNAVAILABLE, RetryingTask, RetryLater, enqueue

logger = logging.getLogger(__name__)


# --- receive (webhook events, attachments, profiles) ----------------------------------------------


@shared_task(bind=True, base=RetryingTask, name="inbox.tasks.webhook_events_drain", max_retries=None)
def webhook_events_drain(self) -> int:
    """Apply the pending webhook events in batches (woken by the endpoint; see the service).

    Database down: retried without a cap (the requeue task would wake a drain anyway), the events
    are still pending.
    """
    from inbox.ingest.drain import webhook_events_drain as drain

    try:
        return drain()
    except DATABASE_UNAVAILABLE as exc:
        logger.warning("Webhook drain: database unavailable (%s); retrying", exc)
        if "deadlock" in str(exc).lower():
            # A deadlock with another drain was rolled back at once: go again at once.
            raise self.retry(exc=exc, countdown=0) from exc
        raise


@shared_task(bind=True, base=RetryingTask, name="inbox.tasks.webhook_event_process", max_retries=8)
def webhook_event_process(self, event_id: int) -> None:
    """Apply one stored webhook event (replays by id). A permanent problem is recorded on the row."""
    from inbox.ingest.drain import webhook_event_process as process
    from inbox.models import WebhookEvent

    event = process(event_id=event_id)
    if event is None and WebhookEvent.objects.filter(pk=event_id, state=WebhookEvent.State.PENDING).exists():
        # Another session holds the row (possibly a killed worker's, until PostgreSQL notices):
        # look again soon rather than wait for the requeue task.
        raise self.retry(countdown=5)


@shared_task(bind=True, base=RetryingTask, name="inbox.tasks.attachment_download", max_retries=4,
             autoretry_for=(Exception,))
def attachment_download(self, attachment_id: int) -> None:
    """Copy one attachment into storage; after the last retry it is FAILED with the error kept.

    Any failure but Meta's permanent answer (a 404, a refused URL) is worth another try: a storage
    error too.
    """
    from inbox.models import Attachment
    from inbox.services.media import attachment_download as download
    from inbox.services.media import attachment_mark_failed
    from social.graph import GraphAPIError, TransientGraphError

    attachment = (
        Attachment.objects.select_related("message__account__page").filter(pk=attachment_id).first()
    )
    if attachment is None:
        return
    try:
        download(attachment=attachment)
    except Exception as exc:
        permanent = isinstance(exc, GraphAPIError) and not isinstance(exc, TransientGraphError)
        if not permanent and self.will_retry(exc):
            if not isinstance(exc, GraphAPIError):
                logger.exception("Attachment %s download failed", attachment_id)
            raise
        attachment_mark_failed(attachment_id=attachment_id, error=_describe(exc))


@shared_task(bind=True, base=RetryingTask, name="inbox.tasks.contact_profile_fetch", max_retries=4)
def contact_profile_fetch(self, contact_id: int) -> None:
    """Fetch the sender's name and picture; a failure only leaves the id showing."""
    _profile_lookup(contact_id, retried=self.will_retry)


# A batch lookup hands the contacts it has not asked yet to the next task after this long.
PROFILE_LOOKUPS_SECONDS = 0.1


@shared_task(bind=True, base=RetryingTask, name="inbox.tasks.contact_profiles_fetch")
def contact_profiles_fetch(self, contact_ids: list[int]) -> None:
    """The profiles of a batch's new customers, one lookup after another.

    A lookup that may succeed later goes on as that contact's own ``contact_profile_fetch``, as its
    first retry, so each customer gets the tries and backoff a lookup of its own would. When Meta
    rate-limits, the contacts not asked yet go with it, after Meta's wait. The database down
    retries this task (contacts already fetched are skipped).
    """
    deadline = time.monotonic() + PROFILE_LOOKUPS_SECONDS
    for position, contact_id in enumerate(contact_ids):
        if position and time.monotonic() > deadline:
            # The rest in the next task: a worker given both queues takes `live` (drains, replies)
            # first, but only between tasks, so a long list must not hold it.
            enqueue("inbox.tasks.contact_profiles_fetch", contact_ids[position:])
            return
        try:
            _profile_lookup(contact_id, retried=lambda exc: isinstance(exc, self.autoretry_for))
        except RetryLater as exc:
            rest = contact_ids[position:] if exc.retry_after else [contact_id]
            for other in rest:
                self.hand_over("inbox.tasks.contact_profile_fetch", other, exc=exc)
            if exc.retry_after:
                return


def _profile_lookup(contact_id: int, *, retried: Callable[[BaseException], bool]) -> None:
    """Look up one contact's profile; raises what ``retried`` says is tried again, records the rest."""
    from inbox.models import Contact
    from inbox.services.contacts import contact_profile_fetch as fetch
    from inbox.services.contacts import contact_profile_mark_failed
    from social.graph import GraphAPIError

    contact = Contact.objects.select_related("account__page").filter(pk=contact_id).first()
    if contact is None or contact.profile_state == Contact.ProfileState.FETCHED:
        return
    try:
        fetch(contact=contact)
    except Exception as exc:
        if retried(exc):
            raise
        if not isinstance(exc, GraphAPIError):
            logger.exception("Profile lookup of contact %s failed", contact_id)
        contact_profile_mark_failed(contact=contact, error=_describe(exc))


@shared_task(name="inbox.tasks.webhook_events_requeue_stale")
def webhook_events_requeue_stale() -> int:
    """Periodic: hand pending events whose task was lost (broker outage) to a worker again."""
    from inbox.ingest.replay import webhook_events_requeue_stale as requeue

    return requeue()


@shared_task(name="inbox.tasks.attachments_retry_failed")
def attachments_retry_failed() -> int:
    """Periodic: retry failed downloads that may still succeed, and pending ones whose task was lost."""
    from inbox.services.media import attachments_retry_failed as retry_failed

    return retry_failed()


@shared_task(name="inbox.tasks.conversations_wake_snoozed")
def conversations_wake_snoozed() -> int:
    """Periodic (every minute): snoozed conversations whose time has come are open again."""
    from inbox.services.conversations import conversations_wake_snoozed as wake

    return wake()


def _describe(exc: BaseException) -> str:
    code = getattr(exc, "code", None)
    prefix = f"{type(exc).__name__}" + (f" (code {code})" if code is not None else "")
    return f"{prefix}: {exc}"


# --- send (replies, read receipts to Meta) ---------------------------------------------------------


@shared_task(bind=True, base=RetryingTask, name="inbox.tasks.message_send", max_retries=5)
def message_send(self, message_id: int) -> str:
    """Send one queued reply. A transient Meta error retries the same row (after the countdown the
    service asks for); it is never sent twice."""
    from inbox.services.replies import ReplyRetryLater, reply_deliver, reply_give_up

    try:
        outcome = reply_deliver(message_id=message_id)
    except ReplyRetryLater as exc:
        if self.will_retry(exc):
            reply_outcome("retry")
            raise
        reply_give_up(message_id=message_id, error=str(exc))
        outcome = "failed"
    reply_outcome(outcome)
    return outcome


@shared_task(name="inbox.tasks.conversation_mark_seen", acks_late=True)
def conversation_mark_seen(conversation_id: int) -> bool:
    """Best effort: tell Meta the page has seen the customer's messages."""
    from inbox.services.conversations import conversation_send_seen

    return conversation_send_seen(conversation_id=conversation_id)


@shared_task(bind=True, base=RetryingTask, name="inbox.tasks.message_reaction_send", max_retries=5)
def message_reaction_send(self, message_id: int) -> str:
    """Send the page's reaction to a customer's message (react or unreact, as the row holds now)."""
    from inbox.services.reactions import reaction_deliver

    return reaction_deliver(message_id=message_id)


@shared_task(name="inbox.tasks.sender_action_send", acks_late=True)
def sender_action_send(conversation_id: int, action: str) -> bool:
    """Best effort: typing_on / typing_off while an agent writes."""
    from inbox.services.typing import sender_action_deliver

    return sender_action_deliver(conversation_id=conversation_id, action=action)


# --- history (earlier conversations from Meta's Conversations API) ---------------------------------


@shared_task(bind=True, base=RetryingTask, name="inbox.tasks.history_import_page", max_retries=8)
def history_import_page(self, import_id: int) -> None:
    """Import one page of a page's earlier conversations and queue the next (see the ingest module).

    A transient error or a rate limit retries the same page (after Meta's wait); any other failure,
    or the last retry, marks the walk failed with its cursor kept, to be resumed.
    """
    from inbox.ingest.history import history_page_import
    from inbox.services.history_import import history_import_fail
    from social.graph import GraphAPIError

    try:
        history_page_import(import_id=import_id)
    except Exception as exc:
        if self.will_retry(exc):
            raise
        if not isinstance(exc, GraphAPIError):
            logger.exception("History import %s failed", import_id)
        history_import_fail(import_id=import_id, error=_describe(exc))


@shared_task(name="inbox.tasks.history_reconcile_all")
def history_reconcile_all() -> int:
    """Daily: fetch every active page's threads of the last two days and store what webhooks missed."""
    from inbox.services.history_import import history_reconcile_all as reconcile

    return reconcile()


# --- compliance (Meta's data-deletion callback, retention) ------------------------------------------------


@shared_task(bind=True, base=RetryingTask, name="inbox.tasks.data_deletion_run", max_retries=8)
def data_deletion_run(self, request_id: int) -> str:
    """Delete what is stored about the person of one data-deletion request (idempotent)."""
    from inbox.services.compliance import data_deletion_run as run

    request = run(request_id=request_id)
    return request.status if request is not None else "missing"


@shared_task(name="inbox.tasks.data_retention_enforce")
def data_retention_enforce() -> dict[str, int]:
    """Daily: empty old raw webhook bodies, delete old media files, queue lost deletion requests again."""
    from inbox.services.compliance import data_deletion_requeue_stale
    from inbox.services.retention import data_retention_enforce as enforce

    counts = enforce()
    counts["deletion_requests_requeued"] = data_deletion_requeue_stale()
    if any(counts.values()):
        logger.info("Data retention: %s", counts)
    return counts


@shared_task(bind=True, base=RetryingTask, name="inbox.tasks.comment_reply_send", max_retries=5)
def comment_reply_send(self, message_id: int) -> str:
    """Post one queued public reply to a comment; Meta's transient errors retry the same row."""
    from inbox.services.comments import comment_reply_deliver, comment_reply_fail

    try:
        return comment_reply_deliver(message_id=message_id)
    except Exception as exc:
        if self.will_retry(exc):
            raise
        comment_reply_fail(message_id=message_id, error=_describe(exc))
        return "failed"


@shared_task(bind=True, base=RetryingTask, name="inbox.tasks.comment_private_reply_send", max_retries=5)
def comment_private_reply_send(self, comment_id: int) -> str:
    """Send the private reply queued for one comment; Meta's transient errors retry it."""
    from inbox.services.comments import comment_private_reply_deliver, private_reply_fail

    try:
        return comment_private_reply_deliver(comment_id=comment_id)
    except Exception as exc:
        if self.will_retry(exc):
            raise
        private_reply_fail(comment_id=comment_id, error=_describe(exc))
        return "failed"


@shared_task(bind=True, base=RetryingTask, name="inbox.tasks.comment_post_fetch", max_retries=4)
def comment_post_fetch(self, conversation_id: int) -> bool:
    """Fetch what a comment thread's post says (its excerpt, link and picture)."""
    from inbox.services.comments import comment_post_fetch as fetch

    return fetch(conversation_id=conversation_id)
