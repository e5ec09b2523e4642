"""The inbox WebSocket: one per open inbox page, joined to its business's group only.

The business comes from the session (the key the HTTP middleware uses) and is checked against the
user's memberships in the database; a client can never name a group. Pushes arrive as rendered HTML
(`inbox.realtime`) and are forwarded as they are: no query per event.
"""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from accounts.middleware import SESSION_KEY
from accounts.models import Membership
from inbox.realtime import business_group


@database_sync_to_async
def _member_business_id(user, business_id) -> int | None:
    """The business this socket may follow, or None.

    With a business chosen in the session, the user must belong to exactly that one (a stale or
    forged choice is refused, never replaced); without a choice, their first business, as the
    pages show it.
    """
    memberships = Membership.objects.filter(user=user)
    if business_id is not None:
        try:
            business_id = int(business_id)
        except (TypeError, ValueError):
            return None
        return business_id if memberships.filter(business_id=business_id).exists() else None
    return memberships.order_by("created_at", "id").values_list("business_id", flat=True).first()


class InboxConsumer(AsyncWebsocketConsumer):
    group_name: str | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close()
            return
        session = self.scope.get("session")
        chosen = session.get(SESSION_KEY) if session is not None else None
        business_id = await _member_business_id(user, chosen)
        if business_id is None:
            await self.close()
            return
        self.group_name = business_group(business_id)
        await self.channel_layer.group_add(self.group_name, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group_name:
            await self.channel_layer.group_discard(self.group_name, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        # The page only listens; anything it sends is ignored.
        return

    async def inbox_html(self, event: dict) -> None:
        await self.send(text_data=event["html"])
