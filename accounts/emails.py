"""The emails accounts sends itself (allauth's own emails are branded in adapters.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

if TYPE_CHECKING:
    from accounts.models import Invitation

PRODUCT_NAME = "Social Inbox"


def absolute_url(path: str) -> str:
    """Links in emails point at SITE_URL: the address this installation is reached at, never the Host header."""
    return settings.SITE_URL.rstrip("/") + path


def invitation_email_send(*, invitation: Invitation, token: str) -> None:
    inviter = invitation.invited_by
    context = {
        "product_name": PRODUCT_NAME,
        "business_name": invitation.business.name,
        "inviter_name": inviter.display_name if inviter else "",
        "inviter_email": inviter.email if inviter else "",
        "role": invitation.get_role_display(),
        "email": invitation.email,
        "accept_url": absolute_url(reverse("accounts:invitation_open", args=[token])),
        "expires_at": invitation.expires_at,
        "site_url": settings.SITE_URL.rstrip("/"),
    }
    subject = " ".join(render_to_string("accounts/email/invitation_subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("accounts/email/invitation_message.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[invitation.email],
    )
    message.attach_alternative(render_to_string("accounts/email/invitation_message.html", context), "text/html")
    message.send()
