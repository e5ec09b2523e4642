"""The sandbox's made-up customers: their page-scoped ids and their names.

Meta gives the same person a different id on every Page (a PSID is page-scoped), and a Page's token
can only look up its own customers. The simulator's default customer therefore has an id of its own
on each Page, so writing to a second Page never reuses the first Page's customer (whose profile
lookup the second Page's token would be refused).
"""

from __future__ import annotations

import hashlib

FIRST_NAMES = (
    "Alessia",
    "Bruno",
    "Chiara",
    "Davide",
    "Elisa",
    "Fabio",
    "Giorgia",
    "Ivan",
    "Jacopo",
    "Lara",
    "Matteo",
    "Noemi",
    "Oscar",
    "Paola",
    "Riccardo",
    "Serena",
    "Tommaso",
    "Ugo",
    "Valentina",
    "Zeno",
    "Beatrice",
    "Carlo",
    "Dalia",
    "Enzo",
    "Federica",
    "Gianni",
    "Irene",
    "Leo",
    "Marina",
    "Nadia",
    "Piero",
    "Rita",
)
LAST_NAMES = (
    "Amato",
    "Barbieri",
    "Caruso",
    "De Luca",
    "Esposito",
    "Fontana",
    "Galli",
    "Lombardi",
    "Mancini",
    "Marini",
    "Moretti",
    "Pellegrini",
    "Ricci",
    "Rinaldi",
    "Romano",
    "Santoro",
    "Serra",
    "Testa",
    "Valentini",
    "Vitale",
    "Colombo",
    "Ferrari",
    "Gentile",
    "Longo",
    "Martini",
    "Messina",
    "Palumbo",
    "Sala",
    "Leone",
    "Riva",
)


def _digits(*parts: str) -> str:
    return str(int(hashlib.sha256(":".join(parts).encode()).hexdigest(), 16))


def default_psid(account_id: str, *, instagram: bool) -> str:
    """The simulator's customer on this Page (or Instagram account): 16 digits, like Meta's ids."""
    return ("98" if instagram else "70") + _digits("sandbox-customer", account_id)[:14]


def customer_name(psid: str, *, taken: set[str] | frozenset[str] = frozenset()) -> tuple[str, str]:
    """(first, last) name for a new customer, derived from the PSID: the same id always gets the same
    name. If another customer already has it (``taken``), the id's last digits tell them apart."""
    digits = _digits("sandbox-name", psid)
    first = FIRST_NAMES[int(digits[:8]) % len(FIRST_NAMES)]
    last = LAST_NAMES[int(digits[8:16]) % len(LAST_NAMES)]
    if f"{first} {last}" in taken:
        last = f"{last} {psid[-4:]}"
    return first, last
