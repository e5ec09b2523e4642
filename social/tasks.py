"""Celery interfaces for token health and page subscriptions (scheduled in CELERY_BEAT_SCHEDULE).

The beat tasks only fan out one task per account, so one slow or failing Page never holds up the rest.
The per-account tasks retry a transient Meta error or an unavailable database (config.tasks.RetryingTask),
minutes apart: a health check is never urgent.
"""

from __future__ import annotations

import logging

from celery import shared_task

from config.tasks import DATABASE_UNAVAILABLE, RetryingTask

logger = logging.getLogger(__name__)

MAX_RETRIES = 5
# The first retry within a minute, then doubling (with jitter) up to an hour.
HEALTH_RETRY_BACKOFF = 60
HEALTH_RETRY_BACKOFF_MAX = 3600


def _account(account_id: int):
    from social.models import SocialAccount

    return SocialAccount.objects.select_related("business", "page").filter(pk=account_id).first()


def _fan_out(task, account_ids) -> int:
    """One task per account, so one slow or failing Page never holds up the rest."""
    ids = list(account_ids)
    for account_id in ids:
        task.delay(account_id)
    return len(ids)


@shared_task
def tokens_check_all() -> int:
    from social.selectors import accounts_for_health_check

    return _fan_out(account_token_check, accounts_for_health_check().values_list("id", flat=True))


@shared_task
def subscriptions_check_all() -> int:
    from social.selectors import accounts_for_health_check

    return _fan_out(account_subscription_check, accounts_for_health_check().values_list("id", flat=True))


@shared_task(base=RetryingTask, max_retries=MAX_RETRIES, retry_backoff=HEALTH_RETRY_BACKOFF,
             retry_backoff_max=HEALTH_RETRY_BACKOFF_MAX)
def account_token_check(account_id: int) -> str:
    from social.services import account_check_token

    account = _account(account_id)
    if account is None:
        return "missing"
    return account_check_token(account=account)


@shared_task(base=RetryingTask, max_retries=MAX_RETRIES, retry_backoff=HEALTH_RETRY_BACKOFF,
             retry_backoff_max=HEALTH_RETRY_BACKOFF_MAX)
def account_subscription_check(account_id: int) -> str:
    from social.models import SocialAccount
    from social.services import account_check_subscription

    account = _account(account_id)
    if account is None or account.status != SocialAccount.Status.ACTIVE or not account.access_token:
        return "skipped"
    return "subscribed" if account_check_subscription(account=account) else "restored"


@shared_task(base=RetryingTask, max_retries=MAX_RETRIES, autoretry_for=(OSError, *DATABASE_UNAVAILABLE),
             retry_backoff=300, retry_backoff_max=HEALTH_RETRY_BACKOFF_MAX)
def account_notify_reconnect(account_id: int) -> int:
    """Email the business; the mail server being down (OSError) is retried later, with backoff."""
    from social.models import SocialAccount
    from social.services import business_notify_reconnect

    account = _account(account_id)
    if account is None or account.status != SocialAccount.Status.NEEDS_RECONNECT:
        return 0
    return business_notify_reconnect(account=account)


@shared_task
def token_expiry_warn_all() -> int:
    """Daily: email owners and admins of Pages whose access ends in 10, 3 or 1 days (once per line)."""
    from social.token_expiry import token_expiry_warn_all as warn

    return warn()


@shared_task
def details_refresh_all() -> int:
    """Daily: refresh every active account's public details."""
    from social.models import SocialAccount

    active = SocialAccount.objects.filter(status=SocialAccount.Status.ACTIVE).order_by("id")
    return _fan_out(account_details_refresh, active.values_list("id", flat=True))


@shared_task(base=RetryingTask, max_retries=MAX_RETRIES, retry_backoff=HEALTH_RETRY_BACKOFF,
             retry_backoff_max=HEALTH_RETRY_BACKOFF_MAX)
def account_details_refresh(account_id: int) -> bool:
    from social.services import account_details_refresh as refresh

    account = _account(account_id)
    return account is not None and refresh(account=account)
