"""A member's notification choices for the current business (browser notifications and a sound).

The choices belong to the membership, so they differ per business and end with it. Only the
current business's membership is ever read or written: there is no id in the URL to forge.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.decorators import business_required
from accounts.models import Membership

if TYPE_CHECKING:
    from django.http import HttpResponse

    from accounts.requests import BusinessRequest

TEMPLATE = "accounts/_alert_preferences.html"
FIELDS = ("notify_new_conversations", "notify_assigned_messages", "notify_mentions", "notify_sound")


class AlertPreferencesForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = FIELDS
        labels = {
            "notify_new_conversations": "New conversations",
            "notify_assigned_messages": "New messages in conversations assigned to me",
            "notify_mentions": "Mentions of me in private notes",
            "notify_sound": "Play a short sound",
        }


@require_POST
@business_required
def alert_preferences(request: BusinessRequest) -> HttpResponse:
    membership = request.membership
    form = AlertPreferencesForm(request.POST, instance=membership)
    # Unticked boxes are simply absent from the POST: a valid form whatever was sent.
    form.is_valid()
    form.save(commit=False)
    membership.save(update_fields=FIELDS)
    if request.htmx:
        return render(
            request, TEMPLATE, {"current_membership": membership, "current_business": request.business, "saved": True}
        )
    messages.success(request, "Your notification choices were saved.")
    return redirect("accounts:profile")
