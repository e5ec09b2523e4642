from __future__ import annotations

import zoneinfo
from functools import cache
from typing import cast

from django import forms
from django.contrib.auth import get_user_model, password_validation

from accounts.models import Membership


class BusinessForm(forms.Form):
    name = forms.CharField(max_length=200, label="Business name")


class MediaPolicyForm(forms.Form):
    """What the business keeps of its customers' Instagram media (README, "What is stored ...")."""

    instagram_media_store = forms.BooleanField(
        required=False,
        label="Store Instagram photos, videos and files",
        help_text="Off: only Meta's link is kept, and the media is shown from it until it expires. "
                  "Story mentions are never stored.",
    )

    def __init__(self, *args, allowed: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not allowed:
            # The operator's INBOX_STORE_MEDIA forbids it: the choice is shown, not offered.
            self.fields["instagram_media_store"].disabled = True


class InvitationForm(forms.Form):
    email = forms.EmailField()
    role = forms.ChoiceField(choices=Membership.Role.choices, initial=Membership.Role.AGENT)

    def __init__(self, *args, role_choices: list[tuple[str, str]] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if role_choices is not None:
            # Only the roles the viewer may hand out are offered (the service refuses the others anyway).
            cast(forms.ChoiceField, self.fields["role"]).choices = role_choices


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Membership.Role.choices)


class InvitationSignupForm(forms.Form):
    """The invitee without an account chooses a password; the invitation link already proved the address."""

    name = forms.CharField(max_length=150, required=False, label="Your name")
    password1 = forms.CharField(label="Password", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    password2 = forms.CharField(label="Password (again)", strip=False,
                                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))

    def __init__(self, *args, email: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.email = email

    def clean(self):
        cleaned = super().clean()
        password1, password2 = cleaned.get("password1"), cleaned.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", "The two passwords differ.")
        elif password1:
            probe = get_user_model()(email=self.email, name=cleaned.get("name", ""))
            try:
                password_validation.validate_password(password1, user=probe)
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return cleaned


@cache
def _zone_names() -> list[str]:
    """The IANA zones people live in (not the legacy aliases such as "US/Eastern" or "Etc/GMT+3")."""
    return sorted(
        name for name in zoneinfo.available_timezones()
        if "/" in name and not name.startswith(("Etc/", "SystemV/", "US/", "posix/", "right/"))
    ) + ["UTC"]


class ProfileForm(forms.Form):
    name = forms.CharField(
        max_length=150, required=False, label="Display name",
        help_text="What colleagues see on your replies and notes, and type after @ to mention you. "
                  "Leave it empty to use the start of your email address.",
    )
    time_zone = forms.ChoiceField(
        required=False, label="Time zone",
        choices=lambda: [("", "As my browser says"), *((name, name.replace("_", " ")) for name in _zone_names())],
        help_text="The inbox shows every time in this zone. Left to your browser, times follow this computer's.",
    )
    clock = forms.ChoiceField(
        required=False, label="Clock", choices=[("", "As my browser shows it"), ("12", "12-hour (2:05 PM)"),
                                                ("24", "24-hour (14:05)")],
    )

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        if "@" in name:
            raise forms.ValidationError("A display name cannot contain “@”.")
        return name

    def clean_time_zone(self) -> str:
        name = self.cleaned_data["time_zone"]
        if not name:
            return ""
        # The list comes from the system's zone files; loading the zone is what the browser will need.
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise forms.ValidationError("Pick a time zone from the list.") from None
        return name


class AssignmentSettingsForm(forms.Form):
    """How conversations are assigned without anyone picking: on the first reply, and the agents' limit."""

    auto_assign_on_reply = forms.BooleanField(required=False, label="Assign on first reply")
    assign_capacity = forms.IntegerField(min_value=0, max_value=1000, label="Open conversations per agent")


class ActivityFilterForm(forms.Form):
    """The activity log's filters: a kind of action, a member, a period of whole days (in the server's zone)."""

    kind = forms.ChoiceField(required=False, label="Kind")
    member = forms.TypedChoiceField(required=False, label="Member", coerce=int, empty_value=None)
    since = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, kinds: list[tuple[str, str]], members: list[tuple[int, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["kind"]).choices = [("", "Every kind"), *kinds]
        cast(forms.ChoiceField, self.fields["member"]).choices = [("", "Everyone"), *members]

    def clean(self) -> dict:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and until < since:
            self.add_error("until", "The period ends before it starts.")
        return data


class RetentionForm(forms.Form):
    activity_retention_days = forms.IntegerField(min_value=30, max_value=3650, label="Keep staff actions for (days)")
    graph_call_retention_days = forms.IntegerField(min_value=7, max_value=365, label="Keep Graph API calls for (days)")


class DataRetentionForm(forms.Form):
    """How long customers' raw data is kept (inbox.services.retention); 0 keeps it forever."""

    webhook_body_retention_days = forms.IntegerField(
        min_value=0, max_value=3650, label="Keep raw webhook bodies for (days)",
        help_text="Meta's messages as they arrived, kept for replaying them. 0: keep forever.",
    )
    media_retention_days = forms.IntegerField(
        min_value=0, max_value=3650, label="Keep media files for (days)",
        help_text="Photos, videos, voice messages and files copied from Meta. 0: keep forever.",
    )
