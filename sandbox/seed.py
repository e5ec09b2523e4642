"""The sandbox's people, Pages and customers; `sandbox_seed` loads them (idempotent)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from sandbox.models import Customer, FacebookUser, Page, PageRole

ALL_TASKS = ["ADVERTISE", "ANALYZE", "CREATE_CONTENT", "MESSAGING", "MODERATE", "MANAGE"]

USERS = [
    {"fb_id": "10215241773831025", "name": "Marco Rossi", "first_name": "Marco", "last_name": "Rossi",
     "email": "marco@bakery-rossi.example"},
    {"fb_id": "10215241773839999", "name": "Anna Verdi", "first_name": "Anna", "last_name": "Verdi",
     "email": "anna@verdi.example"},
    {"fb_id": "10215241773830001", "name": "Olga Shop", "first_name": "Olga", "last_name": "Shop",
     "email": "olga@other-shop.example"},
]

PAGES = [
    {"page_id": "104857600123456", "name": "Bakery Rossi", "username": "bakeryrossi", "category": "Bakery",
     "category_list": [{"id": "197048876974495", "name": "Bakery"}], "fan_count": 1840, "followers_count": 1923,
     "ig_id": "17841400000000000", "ig_username": "bakeryrossi", "ig_name": "Bakery Rossi",
     "ig_followers_count": 3120},
    {"page_id": "104857600234567", "name": "Rossi Catering", "username": "rossicatering", "category": "Caterer",
     "category_list": [{"id": "186982054657561", "name": "Caterer"}], "fan_count": 412, "followers_count": 455},
    {"page_id": "104857600345678", "name": "Verdi Flowers", "username": "verdiflowers", "category": "Florist",
     "category_list": [{"id": "153019434715133", "name": "Florist"}], "fan_count": 230, "followers_count": 251},
    {"page_id": "104857600456789", "name": "Verdi Gallery", "username": "verdigallery", "category": "Art Gallery",
     "category_list": [{"id": "197817313562497", "name": "Art Gallery"}], "fan_count": 95, "followers_count": 101},
    {"page_id": "104857600654321", "name": "Other Shop", "username": "othershop", "category": "Shopping & Retail",
     "category_list": [{"id": "200600219953504", "name": "Shopping & Retail"}], "fan_count": 77, "followers_count": 80},
]

# (user, page, tasks): Anna may only look at Verdi Gallery's insights (no MESSAGING task).
ROLES = [
    ("10215241773831025", "104857600123456", ALL_TASKS),
    ("10215241773831025", "104857600234567", ALL_TASKS),
    ("10215241773839999", "104857600345678", ALL_TASKS),
    ("10215241773839999", "104857600456789", ["ANALYZE", "ADVERTISE"]),
    ("10215241773830001", "104857600654321", ALL_TASKS),
    # Olga also manages Bakery Rossi (another business may try to connect it).
    ("10215241773830001", "104857600123456", ALL_TASKS),
]

CUSTOMERS = [
    {"psid": "7012345678901234", "page": "104857600123456", "first_name": "Giulia", "last_name": "Bianchi"},
    {"psid": "7012345678905678", "page": "104857600123456", "first_name": "Luca", "last_name": "Neri"},
    {"psid": "7012345678909012", "page": "104857600123456", "first_name": "Sofia", "last_name": "Russo"},
    {"psid": "7023456789012345", "page": "104857600234567", "first_name": "Paolo", "last_name": "Conti"},
    {"psid": "7034567890123456", "page": "104857600345678", "first_name": "Elena", "last_name": "Greco"},
    {"psid": "7065432109876543", "page": "104857600654321", "first_name": "Tom", "last_name": "Baker"},
    {"psid": "987654321098765", "page": "104857600123456", "platform": Customer.Platform.INSTAGRAM,
     "first_name": "Giulia", "last_name": "B.", "username": "giulia.b"},
    {"psid": "987654321012345", "page": "104857600123456", "platform": Customer.Platform.INSTAGRAM,
     "first_name": "Marta", "last_name": "", "username": "marta.bakes"},
]


@transaction.atomic
def seed() -> dict[str, int]:
    """Create or update every sandbox row above; safe to run again (nothing is duplicated)."""
    users = {}
    for data in USERS:
        users[data["fb_id"]], _ = FacebookUser.objects.update_or_create(fb_id=data["fb_id"], defaults=data)
    pages = {}
    for data in PAGES:
        pages[data["page_id"]], _ = Page.objects.update_or_create(page_id=data["page_id"], defaults=data)
    for fb_id, page_id, tasks in ROLES:
        PageRole.objects.update_or_create(user=users[fb_id], page=pages[page_id], defaults={"tasks": tasks})
    for data in CUSTOMERS:
        data = dict(data)
        page = pages[data.pop("page")]
        customer, created = Customer.objects.update_or_create(psid=data["psid"], defaults={**data, "page": page})
        if created:
            # Seeded customers wrote recently, so replies are inside the 24-hour window.
            customer.last_message_at = timezone.now()
            customer.save(update_fields=["last_message_at"])
    return {"users": len(users), "pages": len(pages), "customers": len(CUSTOMERS)}
