"""Forms check the shape of input only; which Pages may be connected is decided by the services."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError


class GraphIdsField(forms.Field):
    """A list of Meta object ids from checkboxes sharing one name."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value) -> list[str]:
        if not value:
            return []
        if isinstance(value, str):
            value = [value]
        return list(dict.fromkeys(str(v).strip() for v in value if str(v).strip()))

    def validate(self, value: list[str]) -> None:
        super().validate(value)
        for item in value:
            if not item.isdigit() or len(item) > 32:
                raise ValidationError("That is not a Facebook or Instagram id.", code="invalid_id")


class PageChoiceForm(forms.Form):
    pages = GraphIdsField(required=False)
    instagram = GraphIdsField(required=False)

    def clean(self) -> dict:
        cleaned = super().clean() or {}
        if not self.errors and not cleaned.get("pages") and not cleaned.get("instagram"):
            raise ValidationError("Choose at least one Page or Instagram account to connect.")
        return cleaned


class HumanAgentForm(forms.Form):
    enabled = forms.BooleanField(required=False)
