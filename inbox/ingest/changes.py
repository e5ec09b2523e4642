"""What applying events changed: the rows to push to open screens, and the events that failed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from inbox.facebook.events import Event


@dataclass
class Touched:
    """Conversations and messages one business's open screens must show again.

    ``pane_ids``: conversations whose open pane (header, composer) may look different, e.g. an
    resolved conversation a customer reopened; for the others a push carries only the list row and
    the messages.
    """

    conversation_ids: set[int] = field(default_factory=set)
    message_ids: set[int] = field(default_factory=set)
    pane_ids: set[int] = field(default_factory=set)

    def update(self, other: Touched) -> None:
        self.conversation_ids |= other.conversation_ids
        self.message_ids |= other.message_ids
        self.pane_ids |= other.pane_ids

    def __bool__(self) -> bool:
        return bool(self.conversation_ids or self.message_ids)


def touched(*, conversation_id: int, message_ids: Iterable[int] = ()) -> Touched:
    return Touched(conversation_ids={conversation_id}, message_ids=set(message_ids))


@dataclass(frozen=True)
class Failure:
    """An event that could not be applied even on its own (its webhook event is marked failed)."""

    event: Event
    error: str


@dataclass
class Changes:
    """What ``inbox.ingest.apply.apply`` changed, by business, and the events it left unapplied."""

    touched: dict[int, Touched] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)

    def add(self, business_id: int, touched: Touched) -> None:
        self.touched.setdefault(business_id, Touched()).update(touched)

    def update(self, other: Changes) -> None:
        for business_id, touched in other.touched.items():
            self.add(business_id, touched)
        self.failures.extend(other.failures)
