"""What the settings pages' views share: a valid form handed to one service, whose refusal is shown
on the form instead of an error page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django import forms

T = TypeVar("T")


def form_submit(
    form: forms.Form, action: Callable[[dict[str, Any]], T], *, refusal: type[Exception], field: str
) -> T | None:
    """``action(form.cleaned_data)`` when the form is valid; None when it is not, or when the service
    refused (its message is then the ``field``'s error, shown when the page is rendered again)."""
    if not form.is_valid():
        return None
    try:
        return action(form.cleaned_data)
    except refusal as exc:
        form.add_error(field, str(exc))
        return None
