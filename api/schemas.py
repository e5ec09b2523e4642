"""The API's request bodies and the documented shape of its answers (OpenAPI). The answers themselves
are built by `api.documents`; these schemas say what they hold, field for field."""

from __future__ import annotations

from ninja import Field, Schema


class ErrorBody(Schema):
    code: str
    message: str


class ErrorOut(Schema):
    error: ErrorBody


class PageSettings(Schema):
    profile: dict = Field(description="The Facebook user who connected the account: id, name, email, picture.")
    pages: dict = Field(description="The page's metadata from Meta (never a token).")


class AccountOut(Schema):
    id: str
    platform: str = Field(description="FACEBOOK or INSTAGRAM")
    accountId: str
    accountName: str
    username: str
    expiresAt: str | None
    settings: PageSettings
    category: str
    tasks: list
    permissions: list
    followersCount: int | None
    pictureUrl: str
    page: str | None = Field(description="An Instagram account's parent Page (its id).")
    isActive: bool
    status: str = Field(description="active, needs_reconnect or disconnected")
    humanAgentEnabled: bool
    connectedAt: str | None
    lastWebhookAt: str | None
    business: str
    createdAt: str | None
    updatedAt: str | None


class AccountList(Schema):
    data: list[AccountOut]


class Assignee(Schema):
    email: str
    name: str


class ConversationOut(Schema):
    id: str
    platform: str
    account: str
    participantIds: list
    participantNames: list
    lastMessageAt: str | None
    lastMessagePreview: str
    lastMessageDirection: str
    lastInboundAt: str | None
    unreadCount: int
    isActive: bool
    business: str
    status: str = Field(description="open, pending, snoozed or resolved")
    snoozedUntil: str | None
    priority: str = Field(description="none, low, normal, high or urgent")
    assignee: Assignee | None
    labels: list[str]
    createdAt: str | None
    updatedAt: str | None


class ConversationPage(Schema):
    data: list[ConversationOut]
    nextCursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class MessageOut(Schema):
    id: str
    platform: str
    account: str
    conversation: str
    messageId: str | None = Field(description="Meta's mid; null until Meta accepted an outgoing reply.")
    direction: str = Field(description="inbound, outbound or internal (a private note)")
    kind: str
    source: str
    senderId: str
    senderName: str
    content: str
    mediaUrls: list
    timestamp: str | None
    status: str = Field(description="received, queued, sent, delivered, read or failed")
    isRead: bool
    isReplied: bool
    readAt: str | None
    replyTo: str | None
    reaction: str
    isDeleted: bool
    error: str
    errorCode: int | None
    business: str
    createdAt: str | None


class MessagePage(Schema):
    data: list[MessageOut]
    nextCursor: str | None


class ReplyIn(Schema):
    text: str = Field(min_length=1, max_length=4000)


class AssignIn(Schema):
    assignee: str | None = Field(description="A member's email address; null to unassign.")


class StatusIn(Schema):
    status: str = Field(description="open, pending or resolved")


class LabelIn(Schema):
    label: str = Field(min_length=1, max_length=40, description="A label's name (case does not matter).")


class ReadOut(Schema):
    marked: int = Field(description="How many of the customer's messages were unread.")
