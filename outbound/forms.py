from __future__ import annotations

from django import forms

from outbound.endpoints import URL_MAX_LENGTH
from outbound.models import EVENTS


class EndpointForm(forms.Form):
    url = forms.CharField(label="URL", max_length=URL_MAX_LENGTH, strip=True)
    description = forms.CharField(max_length=200, required=False, strip=True)
    events = forms.MultipleChoiceField(choices=EVENTS, widget=forms.CheckboxSelectMultiple,
                                       error_messages={"required": "Choose at least one event."})


class EndpointEditForm(forms.Form):
    description = forms.CharField(max_length=200, required=False, strip=True)
    events = forms.MultipleChoiceField(choices=EVENTS, widget=forms.CheckboxSelectMultiple,
                                       error_messages={"required": "Choose at least one event."})
