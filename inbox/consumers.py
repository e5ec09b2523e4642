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
"""

from __future__ import annotations

import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.contrib.auth import HASH_SESSION_KEY

from accounts.middleware import SESSION_KEY
from inbox import access
from inbox.realtime import business_group, member_group

_followed_business = database_sync_to_async(access.followed_business)
_access_problem = database_sync_to_async(access.access_problem)


class InboxConsumer(AsyncWebsocketConsumer):
    followed: access.Followed | None = None
    joined: tuple[str, ...] = ()
    ended = False
    checked_at = 0.0

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
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self._leave()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        # The page only listens; anything it sends is ignored.
        return

    async def inbox_html(self, event: dict) -> None:
        if self.ended:
            return
        if time.monotonic() - self.checked_at >= access.RECHECK_SECONDS and not await self._still_allowed():
            return
        await self.send(text_data=event["html"])

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
            user_id=self.user_id, business_id=self.followed.business_id, session_key=self.session_key,
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
        # Out of the groups first: nothing more is even queued for this socket.
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
