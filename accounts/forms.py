from __future__ import annotations

from django import forms

from accounts.models import Membership


class BusinessForm(forms.Form):
    name = forms.CharField(max_length=200, label="Business name")


class MemberAddForm(forms.Form):
    email = forms.EmailField()
    role = forms.ChoiceField(choices=Membership.Role.choices, initial=Membership.Role.AGENT)


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Membership.Role.choices)
