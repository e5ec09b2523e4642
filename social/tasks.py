"""Celery interfaces for token health and page subscriptions (scheduled in CELERY_BEAT_SCHEDULE).

The beat tasks only fan out one task per account, so one slow or failing Page never holds up the rest.
"""

from __future__ import annotations

import logging

from celery import shared_task

from social.graph import RateLimitError, TransientGraphError

logger = logging.getLogger(__name__)

MAX_RETRIES = 5


def _account(account_id: int):
    from social.models import SocialAccount

    return SocialAccount.objects.select_related("business", "page").filter(pk=account_id).first()


def _retry(task, exc: TransientGraphError):
    countdown = exc.retry_after if isinstance(exc, RateLimitError) else 60 * 2**task.request.retries
    return task.retry(exc=exc, countdown=countdown)


@shared_task
def tokens_check_all() -> int:
    from social.selectors import accounts_for_health_check

    ids = list(accounts_for_health_check().values_list("id", flat=True))
    for account_id in ids:
        account_token_check.delay(account_id)
    return len(ids)


@shared_task
def subscriptions_check_all() -> int:
    from social.selectors import accounts_for_health_check

    ids = list(accounts_for_health_check().values_list("id", flat=True))
    for account_id in ids:
        account_subscription_check.delay(account_id)
    return len(ids)


@shared_task(bind=True, max_retries=MAX_RETRIES)
def account_token_check(self, account_id: int) -> str:
    from social.services import account_check_token

    account = _account(account_id)
    if account is None:
        return "missing"
    try:
        return account_check_token(account=account)
    except TransientGraphError as exc:
        raise _retry(self, exc) from exc


@shared_task(bind=True, max_retries=MAX_RETRIES)
def account_subscription_check(self, account_id: int) -> str:
    from social.models import SocialAccount
    from social.services import account_check_subscription

    account = _account(account_id)
    if account is None or account.status != SocialAccount.Status.ACTIVE or not account.access_token:
        return "skipped"
    try:
        return "subscribed" if account_check_subscription(account=account) else "restored"
    except TransientGraphError as exc:
        raise _retry(self, exc) from exc


@shared_task(bind=True, max_retries=MAX_RETRIES)
def account_notify_reconnect(self, account_id: int) -> int:
    from social.models import SocialAccount
    from social.services import business_notify_reconnect

    account = _account(account_id)
    if account is None or account.status != SocialAccount.Status.NEEDS_RECONNECT:
        return 0
    try:
        return business_notify_reconnect(account=account)
    except OSError as exc:  # the mail server is down: try again later
        raise self.retry(exc=exc, countdown=300) from exc
