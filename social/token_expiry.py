"""Tokens that will expire: a forecast, a banner, and an email to owners and admins at 10, 3 and 1 days.

A Page token obtained through a long-lived user token does not expire by itself, but the user token
behind it does (about 60 days), and some Page tokens carry an expiry of their own. The daily token
check extends the user token in its last days when Meta allows it; when it cannot, the business must
reconnect before the date, and should hear about it while there is time, not when replies fail.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from accounts.models import Business
from accounts.services import audit_record
from social.models import Platform, SocialAccount

if TYPE_CHECKING:
    from collections.abc import Iterable

logger = logging.getLogger(__name__)

WARNING_DAYS = (10, 3, 1)


@dataclass(frozen=True)
class Expiring:
    name: str
    expires_at: dt.datetime
    days_left: int


def expiry_of(account: SocialAccount) -> dt.datetime | None:
    """When the account's access ends: the earlier of its Page token's and its user token's expiry."""
    dates = [when for when in (account.expires_at, account.user_token_expires_at) if when is not None]
    return min(dates) if dates else None


def _banner_horizon(now: dt.datetime) -> dt.datetime:
    """Access that ends before this is on the banner (the first warning's day, and then some)."""
    return now + dt.timedelta(days=WARNING_DAYS[0] + 1)


def _soon(now: dt.datetime) -> Q:
    horizon = _banner_horizon(now)
    return Q(expires_at__lte=horizon) | Q(user_token_expires_at__lte=horizon)


# The banner names up to BANNER_NAMES accounts of each kind; a business with many flagged accounts (Pages
# connected together expire together) still costs every page a bounded read of BANNER_ROWS.
BANNER_NAMES = 5
BANNER_ROWS = 2 * BANNER_NAMES


class BannerAccounts(NamedTuple):
    reconnect: list[str]  # names of the accounts Meta no longer accepts
    expiring: list[Expiring]  # soonest first


def banner_accounts(*, business: Business, now: dt.datetime | None = None) -> BannerAccounts:
    """For the banner on every page (one indexed query): the accounts needing reconnecting, and the
    active ones whose access ends within WARNING_DAYS[0] days, soonest first."""
    now = now or timezone.now()
    flagged = (
        SocialAccount.objects.for_business(business)
        .filter(Q(status=SocialAccount.Status.NEEDS_RECONNECT) | (Q(status=SocialAccount.Status.ACTIVE) & _soon(now)))
        .order_by("account_name", "id")
        .only("account_name", "account_id", "status", "expires_at", "user_token_expires_at")[:BANNER_ROWS]
    )
    return banner_of(flagged, now=now)


def banner_of(accounts: Iterable[SocialAccount], *, now: dt.datetime | None = None) -> BannerAccounts:
    """The banner from accounts already loaded, in name order: a page that reads every connected
    account anyway (the inbox, for its badges) spares the banner's query."""
    now = now or timezone.now()
    horizon = _banner_horizon(now)
    reconnect: list[str] = []
    expiring: list[Expiring] = []
    for account in accounts:
        label = account.account_name or account.account_id
        if account.status == SocialAccount.Status.NEEDS_RECONNECT:
            reconnect.append(label)
            continue
        when = expiry_of(account)
        if account.status == SocialAccount.Status.ACTIVE and when is not None and now < when <= horizon:
            expiring.append(Expiring(name=label, expires_at=when, days_left=(when - now).days))
    expiring.sort(key=lambda item: item.expires_at)
    return BannerAccounts(reconnect[:BANNER_NAMES], expiring[:BANNER_NAMES])


def threshold_due(*, days_left: int, warned: list[int]) -> int | None:
    """The warning (10, 3 or 1 days) this many days before expiry calls for, unless already sent."""
    due = [days for days in WARNING_DAYS if days_left <= days and days not in warned]
    return min(due) if due else None


def token_expiry_warn(*, account: SocialAccount, now: dt.datetime | None = None) -> int | None:
    """Email owners and admins when the account's access has crossed a warning line; returns the line
    (10, 3, 1) or None. Each line is warned once per expiry date (kept in the account's settings)."""
    from social.services import business_owner_emails

    now = now or timezone.now()
    expires = expiry_of(account)
    if expires is None or expires <= now:
        return None
    record = (account.settings or {}).get("token_expiry_warned") or {}
    warned = record.get("days", []) if record.get("expires") == expires.isoformat() else []
    line = threshold_due(days_left=(expires - now).days, warned=warned)
    if line is None:
        return None
    recipients = business_owner_emails(business=account.business)
    if recipients:
        _send(account=account, expires=expires, days_left=(expires - now).days, recipients=recipients)
    account.settings = {
        **(account.settings or {}),
        "token_expiry_warned": {"expires": expires.isoformat(), "days": sorted({*warned, line}, reverse=True)},
    }
    account.save(update_fields=["settings", "updated_at"])
    audit_record(
        action="social.token.expiry_warned",
        business=account.business,
        target=account,
        metadata={
            "account_id": account.account_id,
            "days": line,
            "expires": expires.isoformat(),
            "emails": len(recipients),
        },
    )
    return line


def token_expiry_warn_all(*, now: dt.datetime | None = None) -> int:
    """The daily pass over active Pages whose access ends within WARNING_DAYS[0] days; returns warnings sent."""
    now = now or timezone.now()
    accounts = (
        SocialAccount.objects.filter(platform=Platform.FACEBOOK, status=SocialAccount.Status.ACTIVE)
        .filter(_soon(now))
        .select_related("business")
        .order_by("id")
    )
    sent = 0
    for account in accounts:
        try:
            sent += token_expiry_warn(account=account, now=now) is not None
        except Exception:  # one page's mail server trouble must not stop the others' warnings
            logger.exception("Token expiry warning for account %s failed", account.pk)
    return sent


def _send(*, account: SocialAccount, expires: dt.datetime, days_left: int, recipients: list[str]) -> None:
    from django.core.mail import send_mail
    from django.template.loader import render_to_string
    from django.urls import reverse

    context = {
        "account": account,
        "business": account.business,
        "expires": expires,
        "days_left": days_left,
        "url": f"{settings.SITE_URL.rstrip('/')}{reverse('social:account_list')}",
    }
    subject = render_to_string("social/email/token_expiring_subject.txt", context).strip()
    body = render_to_string("social/email/token_expiring_body.txt", context)
    send_mail(subject, body, None, recipients, fail_silently=False)
