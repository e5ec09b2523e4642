"""Receivers that end open inbox sockets whatever path changed access (see `inbox.access`), and the
one that replays the webhook events of a newly connected account.

Signals rather than calls in the views: the Django admin, the shell, management commands and
cascades (a deleted user or business) change memberships, passwords and sessions too; and
`social` never imports the inbox, so it announces a connected account instead of replaying.
Connected in `InboxConfig.ready`.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.contrib.sessions.models import Session
from django.db.models.signals import post_delete, post_init, post_save, pre_delete
from django.dispatch import receiver

from accounts.middleware import SESSION_KEY
from accounts.models import Membership, Team
from inbox import access
from social.signals import account_connected

User = get_user_model()

# What a loaded user's credentials were, to notice a change on save without a query.
_LOADED = "_inbox_access_loaded"


@receiver(post_delete, sender=Membership, dispatch_uid="inbox.access.membership_deleted")
def membership_deleted(sender, instance: Membership, **kwargs) -> None:
    access.revoke_business_on_commit(user_id=instance.user_id, business_id=instance.business_id)


@receiver(post_delete, sender=Membership, dispatch_uid="inbox.assignment.membership_deleted")
def membership_deleted_unassign(sender, instance: Membership, **kwargs) -> None:
    """A member who leaves the business (team page, admin, shell) leaves their conversations unassigned."""
    from inbox.services.assignment import assignments_release

    assignments_release(business_id=instance.business_id, user_id=instance.user_id)


@receiver(pre_delete, sender=Team, dispatch_uid="inbox.assignment.team_deleted")
def team_deleted(sender, instance: Team, **kwargs) -> None:
    """Its conversations lose the team (SET_NULL): their rows and headers change on every screen."""
    from inbox.services.assignment import team_conversations_publish

    team_conversations_publish(team=instance)


@receiver(post_save, sender=Team, dispatch_uid="inbox.assignment.team_saved")
def team_saved(sender, instance: Team, created: bool, **kwargs) -> None:
    """A renamed team: the headers of its conversations show the new name."""
    if not created:
        from inbox.services.assignment import team_conversations_publish

        team_conversations_publish(team=instance)


@receiver(user_logged_out, dispatch_uid="inbox.access.logged_out")
def logged_out(sender, request, user, **kwargs) -> None:
    # Sent before the session is flushed, so its key is still there.
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if session_key:
        access.revoke_session_on_commit(session_key=session_key, reason=access.SIGNED_OUT)


@receiver(post_init, sender=User, dispatch_uid="inbox.access.user_loaded")
def user_loaded(sender, instance, **kwargs) -> None:
    # vars(): a deferred field must not be loaded here (that would be a query per instance).
    loaded = vars(instance)
    setattr(instance, _LOADED, (loaded.get("password"), loaded.get("is_active")))


@receiver(post_save, sender=User, dispatch_uid="inbox.access.user_saved")
def user_saved(sender, instance, created: bool, update_fields=None, **kwargs) -> None:
    """A new password (any path: set_password, the admin, changepassword, allauth) or a deactivated
    account: every socket of the user checks whether its session still holds."""
    if update_fields is not None and not {"password", "is_active"} & set(update_fields):
        return
    before, now = getattr(instance, _LOADED, None), (instance.password, instance.is_active)
    setattr(instance, _LOADED, now)
    if not created and before != now:
        # A false alarm costs each socket of this user one check, nothing more.
        access.recheck_user_on_commit(user_id=instance.pk)


@receiver(post_save, sender=Session, dispatch_uid="inbox.access.session_saved")
def session_saved(sender, instance: Session, created: bool, **kwargs) -> None:
    """The business chosen in a session (switch, a new business): its other sockets follow no longer.

    A database-backed session engine is assumed (config/settings: SESSION_ENGINE); with another one
    a switch is still noticed by the consumer's recheck before its next push. So is a session that
    ends otherwise than by logging out (deleted in the admin, signed in as someone else): no receiver
    on Session deletes, which would make `clearsessions` load every expired session to signal it.
    """
    if created:
        return  # a new key: no socket carries it yet
    chosen = instance.get_decoded().get(SESSION_KEY)
    if chosen is not None:
        access.session_business_on_commit(session_key=instance.session_key, business_id=chosen)


@receiver(account_connected, dispatch_uid="inbox.webhooks.replay_on_connect")
def account_connected_replay(sender, account, **kwargs) -> None:
    """Events that arrived before the account was connected are applied now (sent after commit)."""
    from inbox.ingest.replay import webhook_events_replay_for_account

    webhook_events_replay_for_account(account)


@receiver(account_connected, dispatch_uid="inbox.history.import_on_connect")
def account_connected_import_history(sender, account, **kwargs) -> None:
    """A newly connected page (or Instagram account) brings its earlier conversations (sent after commit)."""
    from django.conf import settings

    from inbox.services.history_import import history_import_start

    if settings.INBOX_HISTORY_IMPORT_ON_CONNECT:
        history_import_start(account=account)
