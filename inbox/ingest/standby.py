"""Messages that came as ``standby`` events: another app owned their threads (Handover Protocol).

Meta delivers a thread's events under ``standby`` to every app that does not own it, so such a
message tells us who does not: the thread's owner is recorded as another app and the message keeps
the app's name, for the thread to show "received while … had the thread".
"""

from __future__ import annotations

from collections.abc import Sequence

from inbox.ingest.changes import Touched
from inbox.ingest.messages import StoredMessage
from inbox.services.handover import handover_standby_apply


def standby_apply(stored: Sequence[StoredMessage]) -> Touched:
    changed = handover_standby_apply(messages=[
        (message.pk, message.conversation.pk, message.draft.timestamp)
        for message in stored
        if message.draft.extra.get("standby")
    ])
    return Touched(conversation_ids=set(changed), pane_ids=set(changed))
