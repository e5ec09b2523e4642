"""The inbox WebSocket: one per open inbox page, joined to its business's group only.

The business comes from the session (the key the HTTP middleware uses) and is checked against the
user's memberships in the database; a client can never name a group. Besides the business's group,
the socket joins its member's own group in that business (`realtime.member_group`: notifications). Pushes arrive as rendered HTML
(`inbox.realtime`) and are forwarded as they are.

Access ends live (`inbox.access`): the socket also listens on its user's and its session's group,
and on removal, sign-out, a new password or a business switch it sends one JSON control frame and
closes with an application code (4401, 4403, 4409). Should such an event be lost, the permission is
checked again before a push once it is older than `access.RECHECK_SECONDS`: one or two queries per
socket per second at most while pushes flow, none per push otherwise.

Presence (`inbox.services.presence`) is the one thing the page sends: small JSON frames
(``{"presence": "viewing", "conversation": 12}``), strictly parsed, at most a few per second, and
only about a conversation of this business (one query per conversation id, then remembered). Each
is stored and broadcast to the business's group; every other member's socket that speaks presence
forwards it as JSON. A socket takes part from its first frame (it is then told who is there
already); one that never sends any gets HTML pushes only. Leaving (disconnect, or access ending)
takes the entry away for everyone at once.
"""

from __future__ import annotations

import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.contrib.auth import HASH_SESSION_KEY

from accounts.middleware import SESSION_KEY
from inbox import access, latency
from inbox.realtime import business_group, member_group
from inbox.services import presence

_followed_business = database_sync_to_async(access.followed_business)
_access_problem = database_sync_to_async(access.access_problem)
_conversation_in_business = database_sync_to_async(presence.conversation_in_business)
_member_ids = database_sync_to_async(presence.member_ids)
_screen_samples = database_sync_to_async(latency.screen_samples_record)


class InboxConsumer(AsyncWebsocketConsumer):
    followed: access.Followed | None = None
    joined: tuple[str, ...] = ()
    ended = False
    checked_at = 0.0
    presence_entry: dict | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close()
            return
        session = self.scope.get("session")
        self.session_key = session.session_key if session is not None else None
        self.auth_hash = session.get(HASH_SESSION_KEY) if session is not None else None
        self.user_id = user.pk
        # Listen for revocations before reading the membership, so none sent meanwhile is missed.
        await self._join(access.user_group(user.pk))
        if self.session_key:
            await self._join(access.session_group(self.session_key))
        chosen = session.get(SESSION_KEY) if session is not None else None
        self.followed = await _followed_business(user_id=user.pk, chosen=chosen)
        self.checked_at = time.monotonic()
        if self.followed is None:
            await self._leave()
            await self.close()
            return
        await self._join(business_group(self.followed.business_id))
        # This member's own pushes (their bell): left with the others when access ends.
        await self._join(member_group(self.followed.business_id, user.pk))
        self.user = user
        self.frame_rate = presence.FrameRate()
        self.allowed_conversations: set[int] = set()
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self._presence_leave()
        await self._leave()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        # Presence frames only; anything else (bytes, oversized, malformed, too many) is dropped.
        if self.ended or self.followed is None:
            return
        acked = latency.ack_parse(text_data)
        if acked is not None:
            # The page placed these messages of a push: how long they took to reach a screen (inbox.latency).
            if self.frame_rate.allow():
                await _screen_samples(business_id=self.followed.business_id, message_ids=acked)
            return
        frame = presence.frame_parse(text_data)
        if frame is None or not self.frame_rate.allow():
            return
        if frame.conversation_id is not None and not await self._may_name(frame.conversation_id):
            return
        if time.monotonic() - self.checked_at >= access.RECHECK_SECONDS and not await self._still_allowed():
            return
        if self.presence_entry is None:
            await self._presence_enter()
        assert self.presence_entry is not None
        self.presence_entry = await presence.presence_update(
            business_id=self.followed.business_id, entry=self.presence_entry, frame=frame
        )
        await self.channel_layer.group_send(
            business_group(self.followed.business_id),
            {"type": "inbox.presence", "user": self.user_id, "text": presence.frame_entries([self.presence_entry])},
        )

    async def inbox_presence(self, event: dict) -> None:
        # A member is not told about themself (their other tabs included), nor a socket that never spoke.
        if self.ended or self.presence_entry is None or event.get("user") == self.user_id:
            return
        if time.monotonic() - self.checked_at >= access.RECHECK_SECONDS and not await self._still_allowed():
            return
        await self.send(text_data=event["text"])

    async def inbox_html(self, event: dict) -> None:
        if self.ended:
            return
        if time.monotonic() - self.checked_at >= access.RECHECK_SECONDS and not await self._still_allowed():
            return
        await self.send(text_data=event["html"])

    # --- presence ----------------------------------------------------------------------------------

    async def _presence_enter(self) -> None:
        """The socket's first frame: store its entry and tell it who is here already (current members only)."""
        assert self.followed is not None
        business_id = self.followed.business_id
        members = await _member_ids(business_id=business_id)
        others = [
            entry
            for entry in await presence.presence_entries(business_id=business_id, members=members)
            if entry["user"] != self.user_id
        ]
        self.presence_entry = presence.entry_new(socket=presence.new_socket_id(), user=self.user)
        await presence.presence_enter(business_id=business_id, entry=self.presence_entry)
        if others:
            await self.send(text_data=presence.frame_entries(others, snapshot=True))

    async def _presence_leave(self) -> None:
        entry, self.presence_entry = self.presence_entry, None
        if entry is None or self.followed is None:
            return
        business_id = self.followed.business_id
        await presence.presence_leave(business_id=business_id, socket=entry["socket"])
        await self.channel_layer.group_send(
            business_group(business_id),
            {
                "type": "inbox.presence",
                "user": self.user_id,
                "text": presence.frame_gone(socket=entry["socket"], user_id=self.user_id),
            },
        )

    async def _may_name(self, conversation_id: int) -> bool:
        """Whether the conversation is this business's: one query per id, then remembered."""
        if conversation_id in self.allowed_conversations:
            return True
        assert self.followed is not None
        if not await _conversation_in_business(business_id=self.followed.business_id, conversation_id=conversation_id):
            return False
        if len(self.allowed_conversations) >= presence.MAX_REMEMBERED_CONVERSATIONS:
            self.allowed_conversations.clear()
        self.allowed_conversations.add(conversation_id)
        return True

    # --- access ------------------------------------------------------------------------------------

    async def access_revoked(self, event: dict) -> None:
        business_id = event.get("business_id")
        if business_id is None or (self.followed and business_id == self.followed.business_id):
            await self._end(event["reason"])

    async def access_recheck(self, event: dict) -> None:
        await self._still_allowed()

    async def access_session(self, event: dict) -> None:
        business_id = event.get("business_id")
        if self.followed and business_id is not None and business_id != self.followed.business_id:
            await self._end(access.SWITCHED)

    async def _still_allowed(self) -> bool:
        if self.ended or self.followed is None:
            return False
        problem = await _access_problem(
            user_id=self.user_id,
            business_id=self.followed.business_id,
            session_key=self.session_key,
            auth_hash=self.auth_hash,
        )
        self.checked_at = time.monotonic()
        if problem is not None:
            await self._end(problem)
            return False
        return True

    async def _end(self, reason: str) -> None:
        if self.ended or self.followed is None:
            return
        self.ended = True
        # Gone from everyone's presence at once, then out of the groups: nothing more is queued here.
        await self._presence_leave()
        await self._leave()
        await self.send(text_data=access.end_frame(reason=reason, business_name=self.followed.business_name))
        await self.close(code=access.CLOSE_CODES[reason])

    async def _join(self, group: str) -> None:
        await self.channel_layer.group_add(group, self.channel_name)
        self.joined = (*self.joined, group)

    async def _leave(self) -> None:
        joined, self.joined = self.joined, ()
        for group in joined:
            await self.channel_layer.group_discard(group, self.channel_name)
