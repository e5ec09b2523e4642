"""Writes for connected accounts: connecting Pages, disconnecting, token health, subscriptions, and
the Graph clients every caller uses (`graph_client`, `account_graph_client`).

Every Graph call here happens outside a database transaction: with SQLite a transaction held
open during an HTTP call would lock out the sandbox answering it on the same server. No call is
repeated here: a web request shows Meta's error, a task retries (config.tasks.RetryingTask).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.services import audit_record
from config.logging import redact
from config.tasks import enqueue_on_commit
from social.exceptions import ConnectRefused
from social.graph import (
    GraphAPIError,
    GraphClient,
    GraphPermissionError,
    TokenInvalidError,
    TransientGraphError,
)
from social.graph_calls import GraphCallRecorder
from social.models import Platform, SocialAccount
from social.signals import account_connected, account_needs_reconnect

if TYPE_CHECKING:
    from collections.abc import Iterable

    from accounts.models import Business, User

logger = logging.getLogger(__name__)

PAGE_FIELDS = "id,name,username,category,category_list,fan_count,followers_count,link,picture{url}"
ME_ACCOUNTS_FIELDS = "id,name,category,category_list,access_token,tasks,picture{url},instagram_business_account{id,username}"
# The Facebook user who connects, kept on each account as `settings["profile"]` (email needs its permission).
ME_PROFILE_FIELDS = "id,name,email,picture{url}"
INSTAGRAM_FIELDS = "id,username,name,profile_picture_url,followers_count"
# Permissions a Page needs for the inbox (docs/messenger-platform.md §7.6): messaging, and webhooks subscription.
PAGE_SCOPES = {
    "pages_messaging": "manage and access the Page's conversations in Messenger (pages_messaging)",
    "pages_manage_metadata": "manage the Page's settings and webhooks (pages_manage_metadata)",
}
INSTAGRAM_SCOPES = {"instagram_manage_messages": "manage Instagram messages (instagram_manage_messages)"}
MESSAGING_TASK = "MESSAGING"
# Long-lived user tokens last about 60 days; try to extend them in their last ten.
USER_TOKEN_REFRESH_BEFORE = timedelta(days=10)


@dataclass(frozen=True)
class UserToken:
    """A Facebook user token (never shown, never logged: `repr` leaves it out)."""

    token: str = field(repr=False)
    expires_at: datetime | None = None


@dataclass
class Grants:
    """What the person allowed in the Login dialog, from debug_token (§7.4)."""

    scopes: set[str] = field(default_factory=set)
    # scope -> the ids it was granted for; a scope absent here applies to every Page.
    targets: dict[str, set[str]] = field(default_factory=dict)

    def allows(self, scope: str, object_id: str) -> bool:
        if scope not in self.scopes:
            return False
        targets = self.targets.get(scope)
        return targets is None or object_id in targets


@dataclass
class PageOption:
    """One Page from /me/accounts as the picker shows it; `problem` says why it can't be connected."""

    id: str
    name: str
    access_token: str = field(repr=False)
    category: str = ""
    category_list: list = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)
    picture_url: str = ""
    problem: str = ""
    connected_here: bool = False
    instagram_id: str = ""
    instagram_username: str = ""
    instagram_problem: str = ""
    instagram_connected_here: bool = False
    permissions: list[str] = field(default_factory=list)


@dataclass
class ConnectResult:
    connected: list[SocialAccount] = field(default_factory=list)
    refused: list[ConnectRefused] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _expiry(expires_in: Any) -> datetime | None:
    try:
        seconds = int(expires_in or 0)
    except (TypeError, ValueError):
        return None
    return timezone.now() + timedelta(seconds=seconds) if seconds > 0 else None


def _from_timestamp(value: Any) -> datetime | None:
    try:
        seconds = int(value or 0)
    except (TypeError, ValueError):
        return None
    return datetime.fromtimestamp(seconds, tz=timezone.get_current_timezone()) if seconds > 0 else None


# GRAPH CLIENTS
# ------------------------------------------------------------------------------
def graph_client(*, access_token: str = "", business: Business | None = None, actor: User | None = None,
                 account: SocialAccount | None = None) -> GraphClient:
    """A Graph client whose every call is audited and held back near Meta's usage limit; a call
    for ``account`` that finds its token invalid flags the account for reconnection."""
    recorder = GraphCallRecorder(business=business, actor=actor, account=account,
                                 on_token_invalid=_token_invalid)
    page_id = account.send_account.account_id if account is not None else ""
    return GraphClient(access_token=access_token, page_id=page_id, before_call=recorder.before_call,
                       on_call=recorder)


def account_graph_client(account: SocialAccount, *, actor: User | None = None) -> GraphClient:
    """The client for an account's calls, with the token the Send API uses (an Instagram account's parent Page)."""
    return graph_client(access_token=account.send_account.access_token, business=account.business, actor=actor,
                        account=account)


def _token_invalid(account: SocialAccount, error: TokenInvalidError) -> None:
    account_mark_needs_reconnect(account=account.send_account, reason=error.message)


# USER TOKENS
# ------------------------------------------------------------------------------
def user_token_from_code(*, code: str, redirect_uri: str, business: Business | None = None,
                         actor: User | None = None) -> UserToken:
    """The Login dialog's code → a short-lived user token → a long-lived one (§7.2)."""
    client = graph_client(business=business, actor=actor)
    short = client.exchange_code(code=code, redirect_uri=redirect_uri)
    if not short.get("access_token"):
        raise GraphAPIError("Facebook returned no access token for the code.")
    return user_token_extend(token=short["access_token"], business=business, actor=actor)


def user_token_extend(*, token: str, business: Business | None = None, actor: User | None = None) -> UserToken:
    data = graph_client(business=business, actor=actor).exchange_token(token=token)
    if not data.get("access_token"):
        raise GraphAPIError("Facebook returned no long-lived token.")
    return UserToken(token=data["access_token"], expires_at=_expiry(data.get("expires_in")))


def _grants(data: dict) -> Grants:
    grants = Grants(scopes={str(s) for s in data.get("scopes") or []})
    for item in data.get("granular_scopes") or []:
        if "target_ids" in item:
            grants.targets[str(item.get("scope"))] = {str(t) for t in item.get("target_ids") or []}
    return grants


# LISTING PAGES
# ------------------------------------------------------------------------------
def facebook_pages_fetch(*, business: Business, user_token: UserToken, actor: User | None = None) -> list[PageOption]:
    """The Pages the person manages (/me/accounts, every page of results), each checked for connecting."""
    client = graph_client(access_token=user_token.token, business=business, actor=actor)
    debug = client.debug_token(input_token=user_token.token)
    if not debug.get("is_valid") or str(debug.get("app_id", settings.FACEBOOK_APP_ID)) != str(settings.FACEBOOK_APP_ID):
        raise ConnectRefused("Facebook says this sign-in is no longer valid. Connect Facebook again.")
    grants = _grants(debug)
    items = list(client.paginate("me/accounts", {"fields": ME_ACCOUNTS_FIELDS, "limit": 100}))

    ids = [str(i.get("id")) for i in items] + [
        str((i.get("instagram_business_account") or {}).get("id")) for i in items if i.get("instagram_business_account")
    ]
    owners = {
        (platform, account_id): business_id
        for platform, account_id, business_id in SocialAccount.objects.filter(account_id__in=ids).values_list(
            "platform", "account_id", "business_id"
        )
    }
    options = []
    for item in items:
        instagram = item.get("instagram_business_account") or {}
        option = PageOption(
            id=str(item.get("id")),
            name=str(item.get("name") or item.get("id")),
            access_token=str(item.get("access_token") or ""),
            category=str(item.get("category") or ""),
            category_list=list(item.get("category_list") or []),
            tasks=[str(t) for t in item.get("tasks") or []],
            picture_url=str(((item.get("picture") or {}).get("data") or {}).get("url") or ""),
            instagram_id=str(instagram.get("id") or ""),
            instagram_username=str(instagram.get("username") or ""),
            permissions=sorted(grants.scopes),
        )
        owner = owners.get((Platform.FACEBOOK, option.id))
        option.connected_here = owner == business.pk
        option.problem = _page_problem(option, grants, owner_business_id=owner, business=business)
        if option.instagram_id:
            ig_owner = owners.get((Platform.INSTAGRAM, option.instagram_id))
            option.instagram_connected_here = ig_owner == business.pk
            option.instagram_problem = _instagram_problem(option, grants, owner_business_id=ig_owner, business=business)
        options.append(option)
    return sorted(options, key=lambda o: o.name.lower())


def _page_problem(option: PageOption, grants: Grants, *, owner_business_id: int | None, business: Business) -> str:
    if owner_business_id is not None and owner_business_id != business.pk:
        return (
            f"{option.name} is connected to another business on Social Inbox, and a Page can belong to one "
            "business only. Ask that business to disconnect it, or an operator to move it."
        )
    if not option.access_token:
        return f"Facebook gave no access to {option.name} for this app. Connect again and select this Page."
    if MESSAGING_TASK not in option.tasks:
        return (
            f"Your role on {option.name} doesn't include messaging (Facebook's MESSAGING task). Ask a Page admin "
            "to give you full control or Messages access, then connect again."
        )
    missing = [label for scope, label in PAGE_SCOPES.items() if not grants.allows(scope, option.id)]
    if missing:
        return (
            f"You didn't allow Social Inbox to {' and '.join(missing)} for {option.name}. Connect Facebook again "
            "and keep these permissions switched on for this Page."
        )
    return ""


def _instagram_problem(option: PageOption, grants: Grants, *, owner_business_id: int | None,
                       business: Business) -> str:
    name = f"@{option.instagram_username}" if option.instagram_username else "This Instagram account"
    if owner_business_id is not None and owner_business_id != business.pk:
        return f"{name} is connected to another business on Social Inbox."
    if option.problem:
        return f"Instagram messages arrive through the Page {option.name}, which can't be connected."
    missing = [label for scope, label in INSTAGRAM_SCOPES.items() if not grants.allows(scope, option.instagram_id)]
    if missing:
        return f"You didn't allow Social Inbox to {' and '.join(missing)} for {name}. Connect Facebook again."
    return ""


# CONNECTING
# ------------------------------------------------------------------------------
def accounts_connect(
    *,
    business: Business,
    actor: User | None,
    user_token: UserToken,
    page_ids: Iterable[str],
    instagram_ids: Iterable[str] = (),
) -> ConnectResult:
    """Connect the chosen Pages (and linked Instagram accounts) to the business.

    The Pages are listed again here, so tokens and checks come from Meta, never from the form.
    An Instagram account brings its Page along: its messages arrive through the Page's subscription.
    """
    options = {o.id: o for o in facebook_pages_fetch(business=business, user_token=user_token, actor=actor)}
    profile = _connecting_profile(business=business, user_token=user_token, actor=actor)
    instagram_ids = {str(i) for i in instagram_ids}
    wanted = {str(p) for p in page_ids} | {o.id for o in options.values() if o.instagram_id in instagram_ids}
    result = ConnectResult()
    for page_id in sorted(wanted, key=lambda p: options[p].name.lower() if p in options else p):
        option = options.get(page_id)
        if option is None:
            result.refused.append(ConnectRefused(
                "Facebook no longer lists this Page for you. Connect Facebook again.", account_id=page_id
            ))
            continue
        try:
            account, warning = _account_connect(business=business, actor=actor, option=option, user_token=user_token,
                                                profile=profile)
        except ConnectRefused as exc:
            result.refused.append(exc)
            continue
        result.connected.append(account)
        if warning:
            result.warnings.append(warning)
        if option.instagram_id and option.instagram_id in instagram_ids:
            try:
                instagram, _ = _account_connect(business=business, actor=actor, option=option, user_token=user_token,
                                                parent=account, profile=profile)
            except ConnectRefused as exc:
                result.refused.append(exc)
                continue
            result.connected.append(instagram)
    return result


def _connecting_profile(*, business: Business, user_token: UserToken, actor: User | None) -> dict:
    """Who is connecting (/me: id, name, email, picture), or {} if Meta would not say: never a reason to refuse."""
    client = graph_client(access_token=user_token.token, business=business, actor=actor)
    try:
        me = client.get("me", {"fields": ME_PROFILE_FIELDS})
    except GraphAPIError as exc:
        logger.info("The connecting user's profile was not read: %s", exc)
        return {}
    picture = ((me.get("picture") or {}).get("data") or {}).get("url") or ""
    return {"id": str(me.get("id") or ""), "name": str(me.get("name") or ""), "email": str(me.get("email") or ""),
            "picture": str(picture)}


def _account_connect(*, business: Business, actor: User | None, option: PageOption, user_token: UserToken,
                     parent: SocialAccount | None = None, profile: dict | None = None) -> tuple[SocialAccount, str]:
    """Connect the Page of ``option`` or, with ``parent`` (its connected Page), the Page's Instagram account.

    Meta is asked first, outside any transaction: the account's details (a transient failure leaves
    what /me/accounts said) and, for a Page, the messages subscription (a refusal refuses the Page,
    another failure only warns). Then the row is created or updated under a lock; another business's
    account is refused. Returns the account and a warning for staff, or "".
    """
    if parent is not None:
        name = f"@{option.instagram_username}" if option.instagram_username else option.instagram_id
        platform, account_id, problem, fields = (
            Platform.INSTAGRAM, option.instagram_id, option.instagram_problem, INSTAGRAM_FIELDS
        )
    else:
        name = option.name
        platform, account_id, problem, fields = Platform.FACEBOOK, option.id, option.problem, PAGE_FIELDS
    if problem:
        raise ConnectRefused(problem, account_id=account_id, name=name)
    client = graph_client(access_token=option.access_token, business=business, actor=actor)
    try:
        details = client.get(account_id, {"fields": fields})
    except TransientGraphError:
        details = {}  # what /me/accounts said is enough; the numbers are refreshed later
    except GraphAPIError as exc:
        raise ConnectRefused(f"Facebook refused access to {name}: {exc.message}", account_id=account_id,
                             name=name) from exc
    subscribed_at, warning = (parent.subscribed_at, "") if parent is not None else _connect_subscribe(client, option)

    now = timezone.now()
    try:
        with transaction.atomic():
            account = SocialAccount.objects.select_for_update().filter(platform=platform, account_id=account_id).first()
            if account is not None and account.business_id != business.pk:
                raise ConnectRefused(_other_business(name), account_id=account_id, name=name)
            reconnect = account is not None
            if account is None:
                account = SocialAccount(business=business, platform=platform, account_id=account_id)
            if not reconnect or account.status == SocialAccount.Status.DISCONNECTED:
                account.connected_at = now
                account.connected_by = actor if getattr(actor, "is_authenticated", False) else None
            if parent is not None:
                _instagram_fill(account, details=details, option=option, parent=parent, name=name)
            else:
                _page_fill(account, details=details, option=option, user_token=user_token)
                account.token_checked_at = now
            account.tasks = option.tasks
            account.permissions = option.permissions
            account.settings = {
                **(account.settings or {}), "profile": profile or (account.settings or {}).get("profile", {}),
                "pages": _page_metadata(details=details, option=option, parent=parent),
            }
            account.status = SocialAccount.Status.ACTIVE
            account.status_reason = ""
            account.is_active = True
            account.disconnected_at = None
            account.subscribed_at = subscribed_at if parent is not None else subscribed_at or account.subscribed_at
            if parent is None:
                account.full_clean(exclude=["picture_url"])
            account.save()
            metadata: dict[str, Any] = {"platform": account.platform, "account_id": account.account_id,
                                        "name": account.account_name}
            if parent is not None:
                metadata["page_id"] = parent.account_id
            else:
                metadata["subscribed"] = subscribed_at is not None
                # Instagram accounts use this Page's token: it works again for them too.
                SocialAccount.objects.filter(page=account, status=SocialAccount.Status.NEEDS_RECONNECT).update(
                    status=SocialAccount.Status.ACTIVE, status_reason="", updated_at=now
                )
            audit_record(
                action="social.account.reconnected" if reconnect else "social.account.connected",
                business=business, actor=actor, target=account, metadata=metadata,
            )
            transaction.on_commit(lambda: _announce_connected(account))
    except IntegrityError as exc:  # another business connected it a moment ago
        raise ConnectRefused(_other_business(name), account_id=account_id, name=name) from exc
    return account, warning


def _page_metadata(*, details: dict, option: PageOption, parent: SocialAccount | None) -> dict:
    """What Meta said about the page (or Instagram account) when it was connected, without any token."""
    if parent is not None:
        keys = ("id", "name", "username", "followers_count", "profile_picture_url")
        return {k: details[k] for k in keys if k in details} or {"id": option.instagram_id,
                                                                 "username": option.instagram_username}
    return {
        "id": option.id, "name": str(details.get("name") or option.name), "category": option.category,
        "category_list": list(details.get("category_list") or option.category_list), "tasks": option.tasks,
        **{k: details[k] for k in ("username", "link", "fan_count", "followers_count") if k in details},
    }


def _connect_subscribe(client: GraphClient, option: PageOption) -> tuple[datetime | None, str]:
    """Subscribe the Page to the app's webhooks; returns when it was confirmed (None if not) and a warning."""
    try:
        _subscribe(client, option.id)
    except (GraphPermissionError, TokenInvalidError) as exc:
        raise ConnectRefused(
            f"Facebook refused to send {option.name}'s messages to Social Inbox: {exc.message}",
            account_id=option.id, name=option.name,
        ) from exc
    except GraphAPIError as exc:
        logger.warning("Subscribing page %s failed: %s", option.id, exc)
        return None, (
            f"{option.name} is connected, but Facebook didn't confirm its messages subscription yet; "
            "Social Inbox will retry automatically."
        )
    return timezone.now(), ""


def _page_fill(account: SocialAccount, *, details: dict, option: PageOption, user_token: UserToken) -> None:
    picture = ((details.get("picture") or {}).get("data") or {}).get("url") or option.picture_url
    account.account_name = str(details.get("name") or option.name)[:255]
    account.username = str(details.get("username") or "")[:255]
    account.access_token = option.access_token
    account.refresh_token = user_token.token
    account.expires_at = None  # a Page token from a long-lived user token doesn't expire (§7.1)
    account.user_token_expires_at = user_token.expires_at
    account.category = str(details.get("category") or option.category)[:255]
    account.category_list = list(details.get("category_list") or option.category_list)
    account.followers_count = _as_count(details.get("followers_count"))
    account.fan_count = _as_count(details.get("fan_count"))
    account.picture_url = str(picture or "")[:1000]
    account.settings = {**(account.settings or {}), "link": details.get("link", "")}


def _instagram_fill(account: SocialAccount, *, details: dict, option: PageOption, parent: SocialAccount,
                    name: str) -> None:
    username = str(details.get("username") or option.instagram_username)
    account.username = username[:255]
    account.account_name = str(details.get("name") or (f"@{username}" if username else name))[:255]
    # The Send API uses the parent Page's id and token (SocialAccount.send_account).
    account.page = parent
    account.access_token = ""
    account.refresh_token = ""
    account.followers_count = _as_count(details.get("followers_count"))
    account.picture_url = str(details.get("profile_picture_url") or "")[:1000]


def _announce_connected(account: SocialAccount) -> None:
    """After commit; a failing receiver (logged by Django) never fails the connect."""
    account_connected.send_robust(sender=SocialAccount, account=account)


def _announce_needs_reconnect(account: SocialAccount, *, flagged_at: datetime) -> None:
    """After commit, with the Instagram accounts flagged along with the Page; a failing receiver (logged
    by Django) never fails the caller."""
    linked = SocialAccount.objects.filter(
        page_id=account.pk, status=SocialAccount.Status.NEEDS_RECONNECT, updated_at=flagged_at
    ).values_list("pk", flat=True)
    ids = [account.pk, *linked]
    account_needs_reconnect.send_robust(sender=SocialAccount, business_id=account.business_id, ids=ids)


def _other_business(name: str) -> str:
    return f"{name} is connected to another business on Social Inbox, and it can belong to one business only."


def _as_count(value: Any) -> int | None:
    try:
        return max(0, int(value)) if value is not None else None
    except (TypeError, ValueError):
        return None


def _subscribe(client: GraphClient, page_id: str) -> None:
    client.post(f"{page_id}/subscribed_apps", data={"subscribed_fields": ",".join(settings.FACEBOOK_WEBHOOK_FIELDS)})


# DISCONNECTING AND OTHER ACCOUNT CHANGES
# ------------------------------------------------------------------------------
def account_disconnect(*, account: SocialAccount, actor: User | None) -> SocialAccount:
    """Unsubscribe the Page (best effort) and keep its history: status disconnected, tokens cleared."""
    unsubscribe_error = ""
    if account.platform == Platform.FACEBOOK and account.access_token:
        try:
            account_graph_client(account, actor=actor).delete(f"{account.account_id}/subscribed_apps")
        except GraphAPIError as exc:
            # Meta may already have dropped the token or the app; the disconnect must still happen.
            unsubscribe_error = str(exc)
            logger.warning("Unsubscribing page %s failed: %s", account.account_id, exc)
    now = timezone.now()
    with transaction.atomic():
        locked = SocialAccount.objects.select_for_update().get(pk=account.pk)
        # An Instagram account has no token of its own: it goes with its Page.
        targets = [locked, *SocialAccount.objects.select_for_update().filter(page=locked).exclude(pk=locked.pk)]
        for target in targets:
            target.status = SocialAccount.Status.DISCONNECTED
            target.status_reason = ""
            target.is_active = False
            target.access_token = ""
            target.refresh_token = ""
            target.disconnected_at = now
            target.subscribed_at = None
            target.save(update_fields=["status", "status_reason", "is_active", "access_token", "refresh_token",
                                       "disconnected_at", "subscribed_at", "updated_at"])
            audit_record(
                action="social.account.disconnected", business=target.business, actor=actor, target=target,
                metadata={"platform": target.platform, "account_id": target.account_id, "name": target.account_name,
                          "unsubscribed": not unsubscribe_error, "unsubscribe_error": redact(unsubscribe_error)[:300]},
            )
    account.refresh_from_db()
    return account


def account_mark_needs_reconnect(*, account: SocialAccount, reason: str, actor: User | None = None) -> bool:
    """The account's token is invalid or lost a permission: flag it (and its Instagram accounts) and tell the business.

    Only an active account changes (the update is conditional), so the business is told once.
    Ingest never looks at this: webhooks for the account keep being stored and processed.
    """
    now = timezone.now()
    reason = redact(reason)[:500]
    with transaction.atomic():
        changed = SocialAccount.objects.filter(pk=account.pk, status=SocialAccount.Status.ACTIVE).update(
            status=SocialAccount.Status.NEEDS_RECONNECT, status_reason=reason, updated_at=now
        )
        if not changed:
            return False
        SocialAccount.objects.filter(page_id=account.pk, status=SocialAccount.Status.ACTIVE).update(
            status=SocialAccount.Status.NEEDS_RECONNECT, status_reason=reason, updated_at=now
        )
        account.status, account.status_reason = SocialAccount.Status.NEEDS_RECONNECT, reason
        audit_record(
            action="social.account.needs_reconnect", business=account.business, actor=actor, target=account,
            metadata={"platform": account.platform, "account_id": account.account_id, "reason": reason},
        )
        enqueue_on_commit("social.tasks.account_notify_reconnect", account.pk)
        transaction.on_commit(lambda: _announce_needs_reconnect(account, flagged_at=now))
    return True


def account_set_human_agent(*, account: SocialAccount, enabled: bool, actor: User | None) -> SocialAccount:
    if account.human_agent_enabled != enabled:
        with transaction.atomic():
            account.human_agent_enabled = enabled
            account.save(update_fields=["human_agent_enabled", "updated_at"])
            audit_record(
                action="social.account.human_agent", business=account.business, actor=actor, target=account,
                metadata={"account_id": account.account_id, "enabled": enabled},
            )
    return account


def account_set_auto_assign(*, account: SocialAccount, enabled: bool, actor: User | None) -> SocialAccount:
    """Share this page's new conversations among the business's online agents (or stop); audited."""
    if account.auto_assign != enabled:
        with transaction.atomic():
            account.auto_assign = enabled
            account.save(update_fields=["auto_assign", "updated_at"])
            audit_record(
                action="social.account.auto_assign", business=account.business, actor=actor, target=account,
                metadata={"account_id": account.account_id, "enabled": enabled},
            )
    return account


def business_owner_emails(*, business) -> list[str]:
    """The addresses of the business's active owners and admins: who hears about its pages' access."""
    from accounts.models import Membership

    return sorted(
        Membership.objects.for_business(business)
        .filter(role__in=[Membership.Role.OWNER, Membership.Role.ADMIN], user__is_active=True)
        .values_list("user__email", flat=True)
    )


def business_notify_reconnect(*, account: SocialAccount) -> int:
    """Email the business's owners and admins that an account needs reconnecting; returns how many were sent."""
    from django.core.mail import send_mail
    from django.template.loader import render_to_string
    from django.urls import reverse

    recipients = business_owner_emails(business=account.business)
    if not recipients:
        return 0
    context = {
        "account": account,
        "business": account.business,
        "url": f"{settings.SITE_URL.rstrip('/')}{reverse('social:account_list')}",
    }
    subject = render_to_string("social/email/reconnect_subject.txt", context).strip()
    body = render_to_string("social/email/reconnect_body.txt", context)
    return send_mail(subject, body, None, recipients, fail_silently=False)


# PAGE DETAILS
# ------------------------------------------------------------------------------
def account_details_refresh(*, account: SocialAccount) -> bool:
    """Fetch the page's (or Instagram account's) public details again, as at connect time: name,
    category, followers, picture; daily, so the Pages screen and channel health are not frozen at the
    day it was connected. False when the account cannot be asked (not active, no token, Meta refused)."""
    send = account.send_account
    if account.status != SocialAccount.Status.ACTIVE or not send.access_token:
        return False
    client = account_graph_client(account)
    instagram = account.platform == Platform.INSTAGRAM
    try:
        details = client.get(account.account_id, params={"fields": INSTAGRAM_FIELDS if instagram else PAGE_FIELDS})
    except GraphAPIError as exc:
        # An invalid token is flagged by the client's hook (needs reconnecting); anything else waits a day.
        logger.warning("Refreshing the details of account %s failed: %s", account.pk, exc)
        return False
    if instagram:
        account.username = str(details.get("username") or account.username)[:255]
        account.account_name = str(details.get("name") or account.account_name)[:255]
        account.picture_url = str(details.get("profile_picture_url") or account.picture_url)[:1000]
    else:
        picture = ((details.get("picture") or {}).get("data") or {}).get("url")
        account.account_name = str(details.get("name") or account.account_name)[:255]
        account.username = str(details.get("username") or account.username)[:255]
        account.category = str(details.get("category") or account.category)[:255]
        account.category_list = list(details.get("category_list") or account.category_list)
        account.fan_count = _as_count(details.get("fan_count"))
        account.picture_url = str(picture or account.picture_url)[:1000]
    account.followers_count = _as_count(details.get("followers_count"))
    account.settings = {**(account.settings or {}), "details_refreshed_at": timezone.now().isoformat()}
    account.save(update_fields=[
        "account_name", "username", "category", "category_list", "fan_count", "followers_count", "picture_url",
        "settings", "updated_at",
    ])
    return True


# TOKEN HEALTH AND SUBSCRIPTIONS
# ------------------------------------------------------------------------------
def account_check_token(*, account: SocialAccount) -> str:
    """debug_token the Page token; flag the account if it's invalid or lost a permission, and extend
    the long-lived user token in its last days. Returns "ok", "refreshed", "needs_reconnect" or "skipped".
    """
    if account.platform != Platform.FACEBOOK or account.status != SocialAccount.Status.ACTIVE or not account.access_token:
        return "skipped"
    client = graph_client(business=account.business, account=account)
    data = client.debug_token(input_token=account.access_token)
    now = timezone.now()
    if not data.get("is_valid") or str(data.get("app_id", settings.FACEBOOK_APP_ID)) != str(settings.FACEBOOK_APP_ID):
        message = (data.get("error") or {}).get("message") or "Facebook says the Page's access token is no longer valid."
        account_mark_needs_reconnect(account=account, reason=message)
        return "needs_reconnect"
    grants = _grants(data)
    missing = [scope for scope in PAGE_SCOPES if not grants.allows(scope, account.account_id)]
    if missing:
        account_mark_needs_reconnect(account=account, reason=f"The permission {', '.join(missing)} was removed.")
        return "needs_reconnect"
    account.permissions = sorted(grants.scopes)
    account.expires_at = _from_timestamp(data.get("expires_at"))
    account.token_checked_at = now
    account.save(update_fields=["permissions", "expires_at", "token_checked_at", "updated_at"])
    if (
        account.refresh_token
        and account.user_token_expires_at is not None
        and account.user_token_expires_at - now < USER_TOKEN_REFRESH_BEFORE
        and account_refresh_user_token(account=account)
    ):
        return "refreshed"
    return "ok"


def account_refresh_user_token(*, account: SocialAccount) -> bool:
    """Extend the long-lived user token where Meta allows it, then fetch the Page token again with it.

    A failure is not fatal: the Page token from a long-lived user token has no expiry of its own.
    """
    try:
        user_token = user_token_extend(token=account.refresh_token, business=account.business)
        page = graph_client(access_token=user_token.token, business=account.business).get(
            account.account_id, {"fields": "access_token"}
        )
    except GraphAPIError as exc:
        logger.info("Could not extend the user token of %s: %s", account.account_id, exc)
        audit_record(
            action="social.token.refresh_failed", business=account.business, target=account,
            metadata={"account_id": account.account_id, "error": redact(str(exc))[:300]},
        )
        return False
    with transaction.atomic():
        account.refresh_token = user_token.token
        account.user_token_expires_at = user_token.expires_at
        if page.get("access_token"):
            account.access_token = page["access_token"]
        account.save(update_fields=["refresh_token", "user_token_expires_at", "access_token", "updated_at"])
        audit_record(
            action="social.token.refreshed", business=account.business, target=account,
            metadata={"account_id": account.account_id,
                      "user_token_expires_at": user_token.expires_at.isoformat() if user_token.expires_at else None},
        )
    return True


def account_check_subscription(*, account: SocialAccount) -> bool:
    """Is the Page still subscribed to our app with every field? If Meta dropped it, subscribe again.

    Returns True when it was already subscribed, False when it had to be restored.
    """
    client = account_graph_client(account)
    apps = client.get(f"{account.account_id}/subscribed_apps").get("data") or []
    ours = next((a for a in apps if str(a.get("id")) == str(settings.FACEBOOK_APP_ID)), None)
    wanted = set(settings.FACEBOOK_WEBHOOK_FIELDS)
    if ours is not None and wanted <= set(ours.get("subscribed_fields") or []):
        if account.subscribed_at is None:
            account.subscribed_at = timezone.now()
            account.save(update_fields=["subscribed_at", "updated_at"])
        return True
    _subscribe(client, account.account_id)
    with transaction.atomic():
        account.subscribed_at = timezone.now()
        account.save(update_fields=["subscribed_at", "updated_at"])
        audit_record(
            action="social.subscription.restored", business=account.business, target=account,
            metadata={"account_id": account.account_id, "was_subscribed": ours is not None},
        )
    return False
