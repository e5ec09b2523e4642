"""Input shapes for the inbox views; the rules themselves live in the services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone

from inbox.models import Conversation
from inbox.selectors import ConversationFilters
from inbox.services.conversations import (
    SNOOZE_PRESETS,
    ConversationError,
    snooze_local_until,
    snooze_preset_until,
    snooze_zone,
)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files under one name (`<input type=file multiple>`); each checked as a FileField would."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list:
        if not data:
            return []
        items = data if isinstance(data, list | tuple) else [data]
        return [super(MultipleFileField, self).clean(item, initial) for item in items]


class ReplyForm(forms.Form):
    text = forms.CharField(required=False, strip=True, widget=forms.Textarea(attrs={"rows": 2}))
    file = forms.FileField(required=False)
    attachments = MultipleFileField(required=False)
    # The pk of the customer's message this reply quotes (Meta's `reply_to`).
    reply_to = forms.IntegerField(required=False, min_value=1)

    def clean(self) -> dict:
        data = super().clean() or {}
        # One title a button; the service checks Meta's limits and says which one is wrong.
        titles = self.data.getlist("quick_reply") if hasattr(self.data, "getlist") else []
        data["quick_replies"] = [{"title": t} for t in (t.strip() for t in titles) if t]
        if not data.get("text") and not data.get("file") and not data.get("attachments"):
            raise forms.ValidationError("Write a reply or attach a file.")
        return data


class PriorityForm(forms.Form):
    priority = forms.ChoiceField(choices=Conversation.Priority.choices)


class SnoozeForm(forms.Form):
    """Until when: a preset, or a date and time typed in the staff member's zone (``tz``, the browser's)."""

    preset = forms.ChoiceField(choices=list(SNOOZE_PRESETS.items()), required=False)
    until = forms.DateTimeField(
        required=False, input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    tz = forms.CharField(required=False, max_length=64)

    def clean(self) -> dict:
        data = super().clean() or {}
        if self.errors:
            return data
        tz = snooze_zone(data.get("tz"))
        try:
            if data.get("preset"):
                data["until"] = snooze_preset_until(data["preset"], tz=tz)
            elif data.get("until"):
                # The field made it aware in the site's zone; the staff member meant their own.
                data["until"] = snooze_local_until(timezone.make_naive(data["until"]), tz=tz)
            else:
                raise forms.ValidationError("Pick when the conversation should come back.")
        except ConversationError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return data


class FilterForm(forms.Form):
    """The list's filters from the query string; anything malformed falls back to the default."""

    status = forms.ChoiceField(choices=Conversation.Status.choices, required=False)
    unread = forms.BooleanField(required=False)
    priority = forms.ChoiceField(choices=[("any", "Any"), *Conversation.Priority.choices], required=False)
    page = forms.UUIDField(required=False)  # a page's public id
    q = forms.CharField(required=False, max_length=100, strip=True)
    cursor = forms.CharField(required=False, max_length=64)
    assignee = forms.ChoiceField(choices=[("me", "Mine"), ("none", "Unassigned")], required=False)
    team = forms.IntegerField(required=False, min_value=1)
    label = forms.IntegerField(required=False, min_value=1)
    reply = forms.ChoiceField(choices=[("expiring", "Expiring soon"), ("needed", "Needs reply")], required=False)

    def filters(self, *, user_id: int | None = None) -> ConversationFilters:
        self.is_valid()  # cleaned_data keeps the fields that were valid
        data = self.cleaned_data
        return ConversationFilters(
            status=data.get("status") or Conversation.Status.OPEN,
            unread=bool(data.get("unread")),
            priority=data.get("priority") or "",
            account=data.get("page"),
            q=data.get("q") or "",
            assignee=data.get("assignee") or "",
            team_id=data.get("team"),
            user_id=user_id,
            label_id=data.get("label"),
            reply=data.get("reply") or "",
        )

    def cursor_value(self) -> str | None:
        self.is_valid()
        return self.cleaned_data.get("cursor") or None


class AssignForm(forms.Form):
    """The header's assignee picker: a member (by id, or typed as their name or email), and/or a team.

    ``assignee``: "" leaves it, "none" clears it, "me" is the acting member, else a user id; the
    typed ``assignee_name`` (the type-ahead's text) is matched by the view when no id came with it.
    ``team``: "" leaves it, "none" clears it, else a team id.
    """

    assignee = forms.CharField(required=False, max_length=20)
    assignee_name = forms.CharField(required=False, max_length=254, strip=True)
    team = forms.CharField(required=False, max_length=20)

    def _choice(self, name: str) -> str:
        value = (self.cleaned_data.get(name) or "").strip()
        if value in ("", "none", "me") or value.isdigit():
            return value
        raise forms.ValidationError(f"Unknown {name}.")

    def clean_assignee(self) -> str:
        return self._choice("assignee")

    def clean_team(self) -> str:
        return self._choice("team")
