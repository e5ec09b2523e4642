"""Meta-shaped webhook bodies for the benchmarks, built with the sandbox's payload builders."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from sandbox import payloads as p

# The benchmark business's connected page (an id shaped like Meta's; no real page has it).
PAGE_ID = "104857600999001"
SIGNATURE_HEADER = p.SIGNATURE_HEADER


def headers_for(body: bytes, secret: str) -> dict[str, str]:
    return {"Content-Type": "application/json", SIGNATURE_HEADER: p.sign(body, secret)}


def sample_body(*, page_id: str = PAGE_ID, size: int = 600) -> bytes:
    """One customer text message, padded to about `size` bytes like the measurement in docs/serving.md."""
    base = p.encode(p.envelope(object_type="page", entries=[
        p.entry(account_id=page_id, events=[p.text_message(page_id=page_id, psid="7000000000000001", text="")])
    ]))
    filler = "Hello, is the blue one still available in size 40? " * 20
    text = filler[: max(1, size - len(base))]
    return p.encode(p.envelope(object_type="page", entries=[
        p.entry(account_id=page_id, events=[p.text_message(page_id=page_id, psid="7000000000000001", text=text)])
    ]))


def batched_body(*, page_id: str = PAGE_ID, items: int = 5) -> bytes:
    """One POST carrying ``items`` customer messages in one entry (Meta batches under load)."""
    events = [
        p.text_message(page_id=page_id, psid=str(7_000_000_000_000_001 + n),
                       text=f"Hello, is the blue one still available in size {38 + n}? Thanks!")
        for n in range(items)
    ]
    return p.encode(p.envelope(object_type="page", entries=[p.entry(account_id=page_id, events=events)]))


# The two shapes the saturation phase measures: Meta's one message per POST (ordinary traffic) and a
# batch of five (a busy page).
SATURATION_BODIES = {"single": sample_body, "batched": batched_body}


@dataclass
class Workload:
    """Signed POSTs and what must be stored once they are all processed."""

    requests: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)
    mids: set[str] = field(default_factory=set)
    last_ms_by_psid: dict[str, int] = field(default_factory=dict)
    count_by_psid: dict[str, int] = field(default_factory=dict)
    text_by_mid: dict[str, str] = field(default_factory=dict)
    duplicate_posts: int = 0
    redelivered_mids: int = 0
    batched_posts: int = 0
    multi_entry_posts: int = 0

    @property
    def messages_in_posts(self) -> int:
        return sum(body.count(b'"mid":') for body, _ in self.requests)


_WORDS = ["hello", "order", "delivery", "price", "size", "colour", "refund", "invoice", "tomorrow", "today", "thanks", "please", "available", "shop", "café", "naïve", "garçon", "straße", "你好", "ありがとう", "🙂", "👍", "❤️", "blue", "red", "green", "parcel", "tracking", "address", "return"]


def message_workload(
    *, messages: int, contacts: int, secret: str, page_id: str = PAGE_ID, seed: int = 7,
    batched_share: float = 0.2, multi_entry_share: float = 0.1, duplicate_post_share: float = 0.05,
    redelivery_share: float = 0.02, base_ms: int | None = None, psid_base: int = 7_100_000_000_000_000,
    shuffle: bool = True,
) -> Workload:
    """`messages` distinct customer messages from `contacts` customers to one page.

    Most POSTs carry one message; `batched_share` carry 2-5 messaging items in one entry and
    `multi_entry_share` 2-3 entries of 1-3 items (Meta may batch both ways). `duplicate_post_share` of the
    POSTs are sent again byte for byte later (Meta retrying a delivery) and `redelivery_share` of the
    messages come again inside a different body. Timestamps are unique and increase with the message
    number, but the POSTs are shuffled a little, so arrival order is not timestamp order.
    """
    rng = random.Random(seed)
    base_ms = base_ms if base_ms is not None else p.now_ms() - 3_600_000
    psids = [str(psid_base + index) for index in range(contacts)]
    work = Workload()

    items: list[dict] = []
    for index in range(messages):
        psid = psids[index % contacts] if index < contacts else rng.choice(psids)
        timestamp = base_ms + index * 3
        mid = p.new_mid()
        text = f"bench {index}: " + " ".join(rng.choices(_WORDS, k=rng.randint(2, 14)))
        items.append(p.text_message(page_id=page_id, psid=psid, text=text, mid=mid, timestamp_ms=timestamp))
        work.mids.add(mid)
        work.text_by_mid[mid] = text
        work.count_by_psid[psid] = work.count_by_psid.get(psid, 0) + 1
        work.last_ms_by_psid[psid] = max(work.last_ms_by_psid.get(psid, 0), timestamp)

    bodies: list[bytes] = []
    position = 0
    while position < len(items):
        roll = rng.random()
        if roll < multi_entry_share:
            entries = []
            for _ in range(rng.randint(2, 3)):
                take = items[position: position + rng.randint(1, 3)]
                position += len(take)
                if take:
                    entries.append(p.entry(account_id=page_id, events=take))
            work.multi_entry_posts += 1
        else:
            size = rng.randint(2, 5) if roll < multi_entry_share + batched_share else 1
            take = items[position: position + size]
            position += len(take)
            entries = [p.entry(account_id=page_id, events=take)]
            if size > 1:
                work.batched_posts += 1
        bodies.append(p.encode(p.envelope(object_type="page", entries=entries)))

    # Redeliveries: the same messaging item again, in a new body with a new entry time.
    for item in rng.sample(items, int(len(items) * redelivery_share)):
        bodies.append(p.encode(p.envelope(object_type="page", entries=[p.entry(account_id=page_id, events=[item])])))
        work.redelivered_mids += 1
    # Byte-for-byte duplicates of earlier POSTs.
    for body in rng.sample(bodies, int(len(bodies) * duplicate_post_share)):
        bodies.append(body)
        work.duplicate_posts += 1

    # A light shuffle: each POST moves at most ~50 places, like a retry arriving a bit late.
    keyed = sorted(enumerate(bodies), key=lambda pair: pair[0] + (rng.uniform(0, 50) if shuffle else 0))
    work.requests = [(body, headers_for(body, secret)) for _, body in keyed]
    return work
