"""Input shapes for the inbox views; the rules themselves live in the services."""

from __future__ import annotations

from django import forms

from inbox.models import Conversation
from inbox.selectors import ConversationFilters


class ReplyForm(forms.Form):
    text = forms.CharField(required=False, strip=True, widget=forms.Textarea(attrs={"rows": 2}))
    file = forms.FileField(required=False)

    def clean(self) -> dict:
        data = super().clean() or {}
        if not data.get("text") and not data.get("file"):
            raise forms.ValidationError("Write a reply or attach a file.")
        return data


class PriorityForm(forms.Form):
    priority = forms.ChoiceField(choices=Conversation.Priority.choices)


class FilterForm(forms.Form):
    """The list's filters from the query string; anything malformed falls back to the default."""

    status = forms.ChoiceField(choices=Conversation.Status.choices, required=False)
    unread = forms.BooleanField(required=False)
    priority = forms.ChoiceField(choices=[("any", "Any"), *Conversation.Priority.choices], required=False)
    page = forms.IntegerField(required=False, min_value=1)
    q = forms.CharField(required=False, max_length=100, strip=True)
    cursor = forms.CharField(required=False, max_length=64)

    def filters(self) -> ConversationFilters:
        self.is_valid()  # cleaned_data keeps the fields that were valid
        data = self.cleaned_data
        return ConversationFilters(
            status=data.get("status") or Conversation.Status.OPEN,
            unread=bool(data.get("unread")),
            priority=data.get("priority") or "",
            account_id=data.get("page"),
            q=data.get("q") or "",
        )

    def cursor_value(self) -> str | None:
        self.is_valid()
        return self.cleaned_data.get("cursor") or None
