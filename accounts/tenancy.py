"""Tenancy in one place: every tenant-owned model's queryset inherits `for_business()`.

Load a tenant row by id only through it — `Model.objects.for_business(business).get(pk=pk)` — so an
id from another business simply does not exist (a 404), on pages, forms, downloads and sockets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Self

from django.db import models

if TYPE_CHECKING:
    from accounts.models import Business


class BusinessQuerySet(models.QuerySet):
    def for_business(self, business: Business | int) -> Self:
        """The rows of this business (a Business, or its id where only the id travelled: a task, a signal)."""
        return self.filter(business_id=business if isinstance(business, int) else business.pk)
