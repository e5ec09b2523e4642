"""Reads for the inbox pages. Every selector takes the business explicitly.

Lists are keyset-paginated on (last_message_at, id) / (timestamp, id) so a page costs the same at the
millionth message as at the first: no OFFSET, and no COUNT(*) over the business (the only counts are
over unread conversations, which a partial index keeps small).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db import connection
from django.db.models import BooleanField, Count, Exists, Max, OuterRef, Prefetch, Q, Sum, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, Lower, Upper
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership, Team
from inbox.models import (
    Attachment,
    ChatMessage,
    Contact,
    Conversation,
    ConversationLabel,
    ConversationSearchText,
    Label,
    NoteMention,
    Notification,
    SavedReply,
    WebhookEvent,
)
from social.models import POLICY_BLOCK, TOKEN_FIELDS, SocialAccount

if TYPE_CHECKING:
    import uuid

    from django.db.models import QuerySet

    from accounts.models import Business, User

# A cursor is "<microseconds since epoch>.<id>": opaque to staff, exact to the microsecond.
Cursor = tuple[dt.datetime, int]


def cursor_encode(when: dt.datetime, pk: int) -> str:
    return f"{int(when.timestamp() * 1_000_000)}.{pk}"


def cursor_decode(value: str | None) -> Cursor | None:
    """The (time, id) of a cursor, or None for a missing or malformed one (the first page)."""
    if not value:
        return None
    try:
        micros, pk = value.split(".", 1)
        when = dt.datetime.fromtimestamp(int(micros) / 1_000_000, tz=dt.UTC)
        return when, int(pk)
    except (ValueError, OverflowError, OSError):
        return None


def sort_key(when: dt.datetime, pk: int) -> str:
    """A string that sorts like (when, pk): the browser places live rows and messages with it."""
    return f"{int(when.timestamp() * 1_000_000):020d}-{pk:020d}"


@dataclass(frozen=True)
class ConversationFilters:
    status: str = Conversation.Status.OPEN
    unread: bool = False
    # "" = any, "any" = any priority other than none, or one Priority value.
    priority: str = ""
    account: uuid.UUID | None = None  # a page's public id (`?page=`)
    q: str = ""
    # "" = anyone's, "me" = the viewer's (`user_id`), "none" = unassigned.
    assignee: str = ""
    team_id: int | None = None
    user_id: int | None = None
    label_id: int | None = None
    # "" = any, or one of REPLY_VIEWS: "expiring" (the reply window closes soon) or "needed" (needs reply).
    reply: str = ""

    @property
    def is_search(self) -> bool:
        return bool(self.q)

    def as_query(self) -> dict[str, str]:
        """The query-string form, for links that keep the current filters."""
        query: dict[str, str] = {}
        if self.status != Conversation.Status.OPEN:
            query["status"] = self.status
        if self.unread:
            query["unread"] = "1"
        if self.priority:
            query["priority"] = self.priority
        if self.account:
            query["page"] = str(self.account)
        if self.assignee:
            query["assignee"] = self.assignee
        if self.team_id:
            query["team"] = str(self.team_id)
        if self.label_id:
            query["label"] = str(self.label_id)
        if self.reply:
            query["reply"] = self.reply
        if self.q:
            query["q"] = self.q
        return query


@dataclass(frozen=True)
class ConversationPage:
    conversations: list[Conversation]
    next_cursor: str | None = None


@dataclass(frozen=True)
class MessagePage:
    """Messages oldest first; `older_cursor` is set when older messages exist."""

    messages: list[ChatMessage]
    older_cursor: str | None = None


# Unread counts in the navigation stop here ("99+"): counting further would read every unread row.
UNREAD_COUNT_CAP = 100


@dataclass
class AccountCounters:
    account: SocialAccount
    unread_conversations: int = 0

    @property
    def capped(self) -> bool:
        return self.unread_conversations >= UNREAD_COUNT_CAP


@dataclass
class TeamCounter:
    pk: int
    name: str
    open_conversations: int = 0

    @property
    def capped(self) -> bool:
        return self.open_conversations >= UNREAD_COUNT_CAP


@dataclass
class InboxCounters:
    accounts: list[AccountCounters] = field(default_factory=list)
    # Open conversations per assignee (user id), unassigned, and per team; each capped at UNREAD_COUNT_CAP.
    assigned: dict[int, int] = field(default_factory=dict)
    unassigned: int = 0
    teams: list[TeamCounter] = field(default_factory=list)

    def assigned_to(self, user_id: int | None) -> int:
        return self.assigned.get(user_id, 0) if user_id else 0

    @property
    def assigned_attr(self) -> str:
        """The per-member counts as "user:count user:count": the page shows its own member's (static/js)."""
        return " ".join(f"{user_id}:{n}" for user_id, n in sorted(self.assigned.items()) if n)

    @property
    def unassigned_capped(self) -> bool:
        return self.unassigned >= UNREAD_COUNT_CAP

    @property
    def unread_conversations(self) -> int:
        return sum(a.unread_conversations for a in self.accounts)

    @property
    def capped(self) -> bool:
        return self.unread_conversations >= UNREAD_COUNT_CAP


def _keyset_before(qs: QuerySet, *, time_field: str, cursor: Cursor | None) -> QuerySet:
    if cursor is None:
        return qs
    when, pk = cursor
    # The `lte` bound is what lets PostgreSQL start the index scan at the cursor instead of
    # walking (and discarding) every newer row; the OR settles ties on the same instant.
    return qs.filter(Q(**{f"{time_field}__lt": when}) | Q(**{time_field: when, "id__lt": pk}), **{
        f"{time_field}__lte": when
    })


# A list or a push shows the page's name, never its tokens: leave them encrypted in the database
# (each would be decrypted on load, twice per row). See SocialAccountQuerySet.without_tokens.
ACCOUNT_SECRETS = tuple(f"account__{name}" for name in TOKEN_FIELDS)


# What a list row shows (templatetags/conversation_row.py), and nothing more: a page of 50 rows
# spared the participants' JSON, the receipts' watermarks, the page's settings and the assignee's
# account columns loads in half the time (~4 ms of a list request's ~10 ms in Python).
ROW_FIELDS = (
    "public_id", "platform", "account_id", "contact_id", "last_message_at", "last_message_preview", "last_message_direction",
    "unread_count", "status", "snoozed_until", "priority", "assignee_id", "team_id", "kind", "post_excerpt",
    "contact__name", "contact__username", "contact__external_id", "contact__picture", "contact__picture_url",
    "account__account_name", "account__account_id", "account__platform", "account__public_id",
    "assignee__name", "assignee__email",
)


def conversation_queryset(*, business: Business) -> QuerySet[Conversation]:
    return (
        Conversation.objects.for_business(business).select_related("contact", "account", "assignee", "team")
        .defer(*ACCOUNT_SECRETS)
    )


def conversation_rows_queryset(*, business: Business) -> QuerySet[Conversation]:
    """Conversations with what a row shows of them (ROW_FIELDS) and nothing more."""
    return Conversation.objects.for_business(business).select_related("contact", "account", "assignee").only(*ROW_FIELDS)


def conversation_list(
    *, business: Business, filters: ConversationFilters | None = None, cursor: str | None = None,
    limit: int = 50,
) -> ConversationPage:
    filters = filters or ConversationFilters()
    qs = conversation_rows_queryset(business=business).filter(status=filters.status)
    if filters.unread:
        qs = qs.filter(unread_count__gt=0)
    if filters.priority == "any":
        qs = qs.exclude(priority=Conversation.Priority.NONE)
    elif filters.priority in Conversation.Priority.values:
        qs = qs.filter(priority=filters.priority)
    if filters.account:
        qs = qs.filter(account__public_id=filters.account)
    if filters.assignee == "me":
        qs = qs.filter(assignee_id=filters.user_id)
    elif filters.assignee == "none":
        qs = qs.filter(assignee__isnull=True)
    if filters.team_id:
        qs = qs.filter(team_id=filters.team_id)
    if filters.label_id:
        qs = qs.filter(label_links__label_id=filters.label_id)
    if filters.reply == "needed":
        qs = qs.filter(needs_reply_condition())
    elif filters.reply == "expiring":
        qs = qs.filter(expiring_soon_condition(now=timezone.now()))
    qs = _keyset_before(qs, time_field="last_message_at", cursor=cursor_decode(cursor))
    rows = None
    if filters.q:
        recent = _search_recent(qs, business=business, q=filters.q, limit=limit)
        if len(recent) > limit:
            rows = recent  # common text: the newest conversations filled the page
        elif len(recent) >= SEARCH_WALK_FROM:
            qs = qs.filter(_search_by_row(business=business, q=filters.q))
        else:
            qs = qs.filter(_search_condition(business=business, q=filters.q))
    if rows is None and filters.reply == "expiring":
        rows = _few_old_rows(qs, limit=limit)
    if rows is None:
        rows = list(qs.order_by("-last_message_at", "-id")[: limit + 1])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = cursor_encode(rows[-1].last_message_at, rows[-1].pk)
    labels_prefetch(rows)
    return ConversationPage(conversations=rows, next_cursor=next_cursor)


# --- reply window views ---
REPLY_VIEWS = ("expiring", "needed")
# "Expiring soon": the standard reply window closes within this long. The windows themselves are
# Meta's (inbox.reply_window, which this layer does not import): 24 h after the customer's last
# message, 7 days after their first message following an ad (docs/messenger-platform.md §6.7).
EXPIRING_SOON = dt.timedelta(hours=2)
_RESPONSE_WINDOW = dt.timedelta(hours=24)
_AD_WINDOW = dt.timedelta(days=7)


def needs_reply_condition() -> Q:
    """Conversations with a customer's message no reply has answered (``ChatMessage.is_replied``, kept
    by ingest and by sent replies): a probe of the partial index msg_conversation_unreplied per row."""
    unreplied = ChatMessage.objects.filter(
        conversation=OuterRef("pk"), direction=ChatMessage.Direction.INBOUND, is_replied=False
    ).exclude(kind=ChatMessage.Kind.NOTICE)
    return Q(Exists(unreplied))


def expiring_soon_condition(*, now: dt.datetime) -> Q:
    """Open conversations whose standard window is still open and closes within EXPIRING_SOON, not
    answered since the customer's last message. The window ends at the later of last inbound + 24 h and
    ad window opened + 7 days; each half is a range on its own partial index (conv_open_last_inbound,
    conv_ad_window_opened)."""
    last_closing = Q(last_inbound_at__gt=now - _RESPONSE_WINDOW, last_inbound_at__lte=now - _RESPONSE_WINDOW + EXPIRING_SOON)
    ad_over_by_then = Q(ad_window_opened_at__isnull=True) | Q(ad_window_opened_at__lte=now - _AD_WINDOW + EXPIRING_SOON)
    ad_closing = Q(
        ad_window_opened_at__gt=now - _AD_WINDOW, ad_window_opened_at__lte=now - _AD_WINDOW + EXPIRING_SOON,
        last_inbound_at__lte=now - _RESPONSE_WINDOW + EXPIRING_SOON,
    )
    return Q(status=Conversation.Status.OPEN) & ((last_closing & ad_over_by_then) | ad_closing) & needs_reply_condition()


def _few_old_rows(qs: QuerySet[Conversation], *, limit: int) -> list[Conversation]:
    """The page of a view whose rows are few and not the newest ("Expiring soon": customers who wrote
    22–24 h ago), in two queries: the page's ids, from every match collected through the view's own
    indexes and sorted by PostgreSQL (a top-N sort of a few hundred ids), then those rows by id.

    Sorted by the column itself, PostgreSQL would walk the list's index newest first instead and pass
    every conversation of the last 22 hours before the first match (~12,000 rows, 12–70 ms with the
    bench data); the sort key is therefore COALESCE of the column with itself: the same order, held by
    no index. The rows come apart from the ids because, joined to the customers, the pages and the
    assignees before the sort, the matches are guessed many times too many and the customers read whole.
    """
    newest_first = Coalesce("last_message_at", "last_message_at")
    ids = list(qs.order_by(newest_first.desc(), "-id").values_list("pk", flat=True)[: limit + 1])
    found = {c.pk: c for c in qs.filter(pk__in=ids).order_by()}
    return [found[pk] for pk in ids if pk in found]


# How many matches a search collects through the trigram indexes (migration inbox 0003) before it
# calls its text common, when the window of the newest conversations (_search_recent) found too little
# to decide. Measured with 100,000 conversations / 1,000,000 messages (bench/pages.py): collecting ids
# costs ~2.3 ms for the index plus ~2.8 µs a match (each match is a message row on its own heap page),
# while on PostgreSQL the newest-first walk costs ~6–10 µs per conversation it passes (its search text,
# migration 0026), ≈ 0.3–0.5 ms / the share of conversations that match.
SEARCH_ID_LIMIT = 5000


# A search first checks the newest conversations of the list (~6–10 µs each on PostgreSQL), at most this
# many: ~1 ms, which every search pays, against the 5–15 ms that collecting the matches costs.
SEARCH_RECENT_WINDOW = 100
# When that window holds at least this many matches (3 %) but not a page, the text is common enough for
# a walk newest first (≈ 0.4 ms / 3 % ≈ 13 ms at worst, ~10 ms for "tracking" in 5 % of conversations,
# whose 5,000 matching messages took 13 ms to collect and 3 more for the page); with fewer, its matches are collected.
SEARCH_WALK_FROM = 3


def _search_by_row(*, business: Business, q: str) -> Q:
    """The search as a check of each conversation: its customer (joined anyway) or any of its messages.

    Written as one OR, the message check stays a per-row check: an EXISTS on its own would be turned
    into a join that collects every match first (PostgreSQL often guesses `LIKE '%word%'` a hundred
    times too rare). On PostgreSQL the conversation's search text (``ConversationSearchText``, a row
    or two) is checked first, and only a conversation found there has its messages read, which
    confirms the match: the search text keeps what was deleted or edited away.
    """
    by_customer = Q(contact__name__icontains=q) | Q(contact__username__icontains=q)
    messages = ChatMessage.objects.for_business(business).filter(content__icontains=q, is_deleted=False)
    by_message = Q(Exists(messages.filter(conversation=OuterRef("pk"))))
    if connection.vendor != "postgresql":
        return by_customer | by_message
    # Upper-cased like the stored text; PostgreSQL folds the pattern to a constant when it plans.
    texts = ConversationSearchText.objects.filter(conversation=OuterRef("pk"), text__contains=Upper(Value(q)))
    return by_customer | (Q(Exists(texts)) & by_message)


def _search_recent(qs: QuerySet[Conversation], *, business: Business, q: str, limit: int) -> list[Conversation]:
    """The matches among the newest SEARCH_RECENT_WINDOW conversations of the list, newest first (one query).

    When they are more than a page, they are the page, exactly: every match outside the window is
    older than all inside it. Text in half or more of the conversations ("refund", "thanks") is
    answered here, sparing it the id collection of _search_condition, which is that text's most
    expensive plan (~5 µs a match, thousands of them). Fewer matches say how common the text is,
    which chooses the plan of the full query (conversation_list).
    """
    window = qs.order_by("-last_message_at", "-id").values("pk")[:SEARCH_RECENT_WINDOW]
    matches = qs.filter(pk__in=window).filter(_search_by_row(business=business, q=q))
    return list(matches.order_by("-last_message_at", "-id")[: limit + 1])


def _search_condition(*, business: Business, q: str) -> Q:
    """Conversations whose customer name/username or any non-deleted message contains `q` (any case).

    Each half is first looked up through its trigram index, at most SEARCH_ID_LIMIT + 1 rows (one
    query each). When both halves found all their matches, they become id lists, so PostgreSQL
    fetches exactly those conversations and sorts the few of them. When the message text is common,
    both halves become per-row checks (_search_by_row), and the list query walks the conversations
    newest first (index conv_business_status_recent) and stops at the page's last row; with common
    text that is after a few hundred rows, while collecting every match would read thousands of messages.
    """
    contacts = Contact.objects.for_business(business).filter(Q(name__icontains=q) | Q(username__icontains=q))
    contact_ids = list(contacts.values_list("pk", flat=True)[: SEARCH_ID_LIMIT + 1])
    messages = ChatMessage.objects.for_business(business).filter(content__icontains=q, is_deleted=False)
    conversation_ids = list(messages.values_list("conversation_id", flat=True)[: SEARCH_ID_LIMIT + 1])
    if len(conversation_ids) > SEARCH_ID_LIMIT:
        return _search_by_row(business=business, q=q)
    by_name = Q(contact__name__icontains=q) | Q(contact__username__icontains=q)
    by_customer = by_name if len(contact_ids) > SEARCH_ID_LIMIT else _column_in("contact_id", contact_ids)
    return by_customer | _column_in("id", sorted(set(conversation_ids)))


def _column_in(column: str, ids: list[int]) -> Q:
    """`conversations.<column> IN ids`; on PostgreSQL as `= ANY(<one array parameter>)`.

    Thousands of ids as `IN (1, 2, …)` are thousands of literals to build, send, parse and plan
    (~5 ms of planning alone for 4,700 ids); one array is one parameter, and PostgreSQL still checks
    it with a hash while it walks the conversations newest first.
    """
    if not ids:
        return Q(pk__in=[])  # matches nothing; Django leaves this half out of the query
    if connection.vendor != "postgresql":
        return Q(**{f"{'pk' if column == 'id' else column}__in": ids})
    quote = connection.ops.quote_name
    # Typed like the columns (bigint): against an int4 array the check is not hashed but a linear
    # search of the array for every row.
    sql = f"{quote(Conversation._meta.db_table)}.{quote(column)} = ANY(%s::bigint[])"
    # The array as its text form: psycopg adapts a list of 5,000 ints one by one in Python (~ms).
    array = "{" + ",".join(str(int(pk)) for pk in ids) + "}"
    # Safe: `column` is one of this module's two column names, the ids travel as a parameter.
    return Q(RawSQL(sql, (array,), output_field=BooleanField()))  # noqa: S611


def conversation_get(*, business: Business, public_id: uuid.UUID) -> Conversation:
    """The business's conversation by its public id, or Conversation.DoesNotExist (a 404) for anyone else's."""
    return conversation_queryset(business=business).get(public_id=public_id)


def conversation_links(business: Business, ids: list[str]) -> dict[str, str]:
    """{conversation id as the audit trail names it: its page} for the activity log (one query)."""
    pks = [int(pk) for pk in ids if pk.isdigit()]
    rows = Conversation.objects.for_business(business).filter(pk__in=pks).values_list("pk", "public_id")
    return {str(pk): reverse("inbox:conversation_detail", args=[public_id]) for pk, public_id in rows}


def conversations_by_ids(*, business_id: int, ids: list[int]) -> list[Conversation]:
    rows = list(
        Conversation.objects.filter(business_id=business_id, pk__in=ids)
        .select_related("contact", "account", "assignee", "team")
        .defer(*ACCOUNT_SECRETS)
    )
    labels_prefetch(rows)
    return rows


def _message_queryset() -> QuerySet[ChatMessage]:
    return ChatMessage.objects.select_related("sent_by", "reply_to").prefetch_related(
        Prefetch("attachments", queryset=Attachment.objects.order_by("position", "id"))
    )


def message_list(
    *, conversation: Conversation, cursor: str | None = None, limit: int = 50
) -> MessagePage:
    """The newest `limit` messages older than the cursor, returned oldest first for display."""
    qs = _message_queryset().filter(business_id=conversation.business_id, conversation=conversation)
    qs = _keyset_before(qs, time_field="timestamp", cursor=cursor_decode(cursor))
    rows = list(qs.order_by("-timestamp", "-id")[: limit + 1])
    older = None
    if len(rows) > limit:
        rows = rows[:limit]
        older = cursor_encode(rows[-1].timestamp, rows[-1].pk)
    rows.reverse()
    return MessagePage(messages=rows, older_cursor=older)


def messages_after(*, conversation: Conversation, after_id: int, limit: int = 100) -> list[ChatMessage]:
    """Messages stored after the one with `after_id` (a reconnecting page's catch-up), oldest first."""
    qs = _message_queryset().filter(
        business_id=conversation.business_id, conversation=conversation, pk__gt=after_id
    )
    return list(qs.order_by("pk")[:limit])


def message_conversation_ids(*, business_id: int, ids: list[int]) -> set[int]:
    """The conversations these messages belong to (one query on the primary key)."""
    return set(
        ChatMessage.objects.filter(business_id=business_id, pk__in=ids).values_list("conversation_id", flat=True)
    )


def messages_by_ids(*, business_id: int, ids: list[int]) -> list[ChatMessage]:
    return list(_message_queryset().filter(business_id=business_id, pk__in=ids).order_by("timestamp", "pk"))


def account_list(*, business: Business) -> QuerySet[SocialAccount]:
    return SocialAccount.objects.for_business(business).connected().without_tokens().order_by("account_name", "id")


def inbox_counters(*, business: Business | None = None, business_id: int | None = None) -> InboxCounters:
    """Unread open conversations per connected account, each counted up to UNREAD_COUNT_CAP: one query.

    The one source of every unread badge (navigation, the Unread filter, each page, the title), on
    a full page, in an action's answer and in a push alike. It counts what the Unread filter lists
    (open conversations with unread messages), so a badge never promises a conversation the list
    does not show: resolving an unread conversation takes it out of both.

    The count per account stops at the cap (a LIMIT inside the subquery), so it costs the same
    with a million messages as with ten; nothing is ever counted over the whole business.
    """
    if business_id is None:
        assert business is not None, "inbox_counters needs a business or its id"
        business_id = business.pk
    capped_unread = RawSQL(
        "SELECT COUNT(*) FROM (SELECT 1 FROM conversations c WHERE c.business_id = social_accounts.business_id"
        " AND c.account_id = social_accounts.id AND c.unread_count > 0 AND c.status = %s LIMIT %s) capped",
        (Conversation.Status.OPEN.value, UNREAD_COUNT_CAP),
    )
    accounts = (
        SocialAccount.objects.filter(business_id=business_id).connected().without_tokens()
        .annotate(unread_capped=capped_unread).order_by("account_name", "id")
    )
    counters = InboxCounters(
        accounts=[AccountCounters(account=a, unread_conversations=a.unread_capped) for a in accounts]
    )
    _assignment_counts(counters, business_id=business_id)
    return counters


def _assignment_counts(counters: InboxCounters, *, business_id: int) -> None:
    """Open conversations per member, unassigned and per team, each up to UNREAD_COUNT_CAP: one query.

    Each count is a LIMIT-ed subquery on an index starting (business, assignee|team, status), so it
    costs the same however many conversations there are.
    """
    # Safe: table names and conditions are this module's constants; every value is a parameter.
    conversations = Conversation._meta.db_table
    capped = (
        f"(SELECT COUNT(*) FROM (SELECT 1 FROM {conversations} c WHERE c.business_id = %s AND c.status = %s"  # noqa: S608
        " AND {condition} LIMIT %s) capped)"
    )
    open_ = Conversation.Status.OPEN.value
    params = (business_id, open_)
    sql = " UNION ALL ".join((
        f"SELECT 'member', m.user_id, '', {capped.format(condition='c.assignee_id = m.user_id')}"  # noqa: S608
        f" FROM {Membership._meta.db_table} m WHERE m.business_id = %s",
        f"SELECT 'team', t.id, t.name, {capped.format(condition='c.team_id = t.id')}"  # noqa: S608
        f" FROM {Team._meta.db_table} t WHERE t.business_id = %s",
        f"SELECT 'none', 0, '', {capped.format(condition='c.assignee_id IS NULL')}",
    ))
    with connection.cursor() as cursor:
        cursor.execute(sql, (
            *params, UNREAD_COUNT_CAP, business_id, *params, UNREAD_COUNT_CAP, business_id, *params, UNREAD_COUNT_CAP,
        ))
        rows = cursor.fetchall()
    teams = []
    for kind, pk, name, n in rows:
        if kind == "member":
            counters.assigned[pk] = n
        elif kind == "team":
            teams.append(TeamCounter(pk=pk, name=name, open_conversations=n))
        else:
            counters.unassigned = n
    counters.teams = sorted(teams, key=lambda t: (t.name.lower(), t.pk))


@dataclass
class DashboardRow:
    account: SocialAccount
    unread_conversations: int = 0
    unread_messages: int = 0
    open_conversations: int = 0
    messages_today: int = 0
    last_message_at: dt.datetime | None = None


def dashboard_rows(*, business: Business) -> list[DashboardRow]:
    """Per connected account: unread and open counts, messages today, last webhook. Three queries.

    Unread counts cover open conversations only, as the badges do (`inbox_counters`).
    """
    open_ = Q(status=Conversation.Status.OPEN)
    accounts = list(account_list(business=business))
    conversations = {
        row["account_id"]: row
        for row in Conversation.objects.for_business(business)
        .values("account_id")
        .annotate(
            unread=Count("id", filter=open_ & Q(unread_count__gt=0)),
            unread_messages=Sum("unread_count", filter=open_),
            open=Count("id", filter=open_),
            last=Max("last_message_at"),
        )
    }
    start_of_day = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    today = {
        row["account_id"]: row["n"]
        for row in ChatMessage.objects.for_business(business)
        .filter(timestamp__gte=start_of_day)
        .exclude(kind=ChatMessage.Kind.NOTE)  # staff's private notes are not messages of the page
        .values("account_id")
        .annotate(n=Count("id"))
    }
    rows = []
    for account in accounts:
        c: Any = conversations.get(account.pk, {})
        rows.append(
            DashboardRow(
                account=account,
                unread_conversations=c.get("unread", 0),
                unread_messages=c.get("unread_messages") or 0,
                open_conversations=c.get("open", 0),
                messages_today=today.get(account.pk, 0),
                last_message_at=c.get("last"),
            )
        )
    return rows


def policy_notices(*, counters: InboxCounters) -> list[SocialAccount]:
    """The connected accounts with a policy block or warning from Meta that staff have not dismissed
    (``SocialAccount.policy_notice``), blocks first: the inbox's banners.

    Read from the counters' accounts (every connected account, in name order), which the same page
    loads for its badges: the banners cost no query of their own."""
    shown = [row.account for row in counters.accounts if row.account.policy_notice]
    return sorted(shown, key=lambda account: account.policy_notice != POLICY_BLOCK)


def last_test_event_at() -> dt.datetime | None:
    """When Meta's App Dashboard last sent a test event (its Test button), for the whole installation:
    the callback URL is the app's, not a business's."""
    return (
        WebhookEvent.objects.filter(state=WebhookEvent.State.TEST)
        .order_by("-received_at").values_list("received_at", flat=True).first()
    )


# --- notifications and mentions (per member) --------------------------------------------------------


def notification_unread_count(*, business_id: int, user_id: int) -> int:
    """The bell's number: this member's unread notifications in this business."""
    return Notification.objects.filter(business_id=business_id, recipient_id=user_id, read_at__isnull=True).count()


def notification_list(*, business: Business, user: User, limit: int = 50) -> list[Notification]:
    return list(
        Notification.objects.for_business(business).filter(recipient=user)
        .select_related("actor", "conversation__contact").order_by("-created_at", "-id")[:limit]
    )


@dataclass(frozen=True)
class MentionRow:
    """A conversation where the member was mentioned, with the notes that mention them (newest first)."""

    conversation: Conversation
    notes: list[ChatMessage]
    last_mentioned_at: dt.datetime


def mention_rows(*, business: Business, user: User, limit: int = 50) -> list[MentionRow]:
    """The conversations whose notes mention this member, the most recently mentioned first.

    Three queries whatever the number of rows: the mentions (by the (business, user, time) index),
    their conversations, their notes with authors.
    """
    mentions = list(
        NoteMention.objects.for_business(business).filter(user=user)
        .order_by("-created_at", "-id").values_list("conversation_id", "note_id", "created_at")[: limit * 5]
    )
    order: list[int] = []
    latest: dict[int, dt.datetime] = {}
    note_ids: dict[int, list[int]] = {}
    for conversation_id, note_id, created_at in mentions:
        if conversation_id not in latest:
            if len(order) >= limit:
                continue
            order.append(conversation_id)
            latest[conversation_id] = created_at
        note_ids.setdefault(conversation_id, []).append(note_id)
    if not order:
        return []
    # Only the columns the page shows (templates/inbox/mentions.html: a list row's): whole rows (the
    # conversations with their contact, page, assignee and team; the notes with their author) took half
    # of this call's time.
    conversations = {c.pk: c for c in conversation_rows_queryset(business=business).filter(pk__in=order)}
    wanted = [pk for ids in note_ids.values() for pk in ids]
    notes = {
        m.pk: m
        for m in ChatMessage.objects.for_business(business).select_related("sent_by")
        .only("timestamp", "content", "sent_by__name", "sent_by__email")
        .filter(pk__in=wanted, kind=ChatMessage.Kind.NOTE, is_deleted=False)
    }
    rows = []
    for conversation_id in order:
        conversation = conversations.get(conversation_id)
        found = [notes[pk] for pk in note_ids[conversation_id] if pk in notes]
        if conversation is not None and found:
            rows.append(MentionRow(conversation=conversation, notes=found, last_mentioned_at=latest[conversation_id]))
    return rows


# --- labels and saved replies ------------------------------------------------------------------------


def labels_prefetch(conversations: list[Conversation]) -> None:
    """Load the labels of all these conversations in one query (`conversation.chip_labels` then costs none).

    Rows and headers show them as chips; the labels of a conversation are all of one business. Read
    through the links rather than Django's prefetch of `labels`, which builds a queryset per
    conversation (~5 ms for a page of 50, a tenth of the list's budget).
    """
    if not conversations:
        return
    by_conversation: dict[int, list[Label]] = {c.pk: [] for c in conversations}
    links = (
        ConversationLabel.objects.filter(conversation_id__in=list(by_conversation))
        .select_related("label")
        .only("conversation_id", "label__id", "label__name", "label__colour")
        .order_by(Lower("label__name"), "label_id")
    )
    for link in links:
        by_conversation[link.conversation_id].append(link.label)
    for conversation in conversations:
        conversation.__dict__["_chip_labels"] = by_conversation[conversation.pk]


def label_list(*, business: Business) -> list[Label]:
    """The business's labels by name: the list's filters, the settings page, a conversation's checklist."""
    return list(Label.objects.for_business(business).order_by(Lower("name"), "id"))


def label_get(*, business: Business, pk: int) -> Label:
    """The business's label, or Label.DoesNotExist (a 404) for anyone else's."""
    return Label.objects.for_business(business).select_related("business").get(pk=pk)


def saved_reply_list(*, business: Business, q: str = "") -> list[SavedReply]:
    """The business's saved replies by code; with `q`, those whose code or text contains it (any case)."""
    qs = SavedReply.objects.for_business(business)
    q = q.strip().lstrip("/")
    if q:
        qs = qs.filter(Q(code__icontains=q) | Q(text__icontains=q))
    return list(qs.order_by("code", "id"))


def saved_reply_get(*, business: Business, pk: int) -> SavedReply:
    return SavedReply.objects.for_business(business).select_related("business").get(pk=pk)


# --- thread search ---------------------------------------------------------------------------------------

# Of a page opened at a search match, about this share shows what came after the match (the rest leads
# up to it), so the match sits in the upper half of the screen with its answer below it.
MATCH_PAGE_NEWER_SHARE = 3


@dataclass(frozen=True)
class MatchPage(MessagePage):
    """Messages around `match_id`, oldest first; `newer_cursor` is set when newer messages exist."""

    newer_cursor: str | None = None
    match_id: int | None = None


def _keyset_after(qs: QuerySet, *, cursor: Cursor) -> QuerySet:
    when, pk = cursor
    # The mirror of _keyset_before: the `gte` bound starts the index scan at the cursor.
    return qs.filter(Q(timestamp__gt=when) | Q(timestamp=when, id__gt=pk), timestamp__gte=when)


def message_match_newest(*, conversation: Conversation, q: str) -> ChatMessage | None:
    """The conversation's newest message that the list's search found it by (same matching: any case,
    not deleted), or None when only the customer's name matched."""
    if not q:
        return None
    return (
        ChatMessage.objects.filter(business_id=conversation.business_id, conversation=conversation)
        .filter(content__icontains=q, is_deleted=False)
        .only("pk", "timestamp").order_by("-timestamp", "-id").first()
    )


def message_list_around(*, conversation: Conversation, q: str, limit: int = 50) -> MatchPage | None:
    """A page of the conversation's messages around its newest match of `q` (None without a match).

    The match and the messages before it come with the usual older cursor; the few after it with a
    newer cursor (message_list_newer), so scrolling either way continues the thread. Five queries
    however long the conversation.
    """
    match = message_match_newest(conversation=conversation, q=q)
    if match is None:
        return None
    qs = _message_queryset().filter(business_id=conversation.business_id, conversation=conversation)
    newer_limit = max(limit // MATCH_PAGE_NEWER_SHARE, 1)
    newer = list(_keyset_after(qs, cursor=(match.timestamp, match.pk)).order_by("timestamp", "id")[: newer_limit + 1])
    newer_cursor = None
    if len(newer) > newer_limit:
        newer = newer[:newer_limit]
        newer_cursor = cursor_encode(newer[-1].timestamp, newer[-1].pk)
    older_limit = max(limit - len(newer), 1)
    # Up to and including the match: before the cursor of a moment just after it.
    up_to = qs.filter(Q(timestamp__lt=match.timestamp) | Q(timestamp=match.timestamp, id__lte=match.pk),
                      timestamp__lte=match.timestamp)
    rows = list(up_to.order_by("-timestamp", "-id")[: older_limit + 1])
    older = None
    if len(rows) > older_limit:
        rows = rows[:older_limit]
        older = cursor_encode(rows[-1].timestamp, rows[-1].pk)
    rows.reverse()
    return MatchPage(messages=rows + newer, older_cursor=older, newer_cursor=newer_cursor, match_id=match.pk)


def message_list_newer(*, conversation: Conversation, cursor: Cursor, limit: int = 50) -> MatchPage:
    """The oldest `limit` messages newer than the cursor, oldest first (scrolling down from a match)."""
    qs = _message_queryset().filter(business_id=conversation.business_id, conversation=conversation)
    rows = list(_keyset_after(qs, cursor=cursor).order_by("timestamp", "id")[: limit + 1])
    newer = None
    if len(rows) > limit:
        rows = rows[:limit]
        newer = cursor_encode(rows[-1].timestamp, rows[-1].pk)
    return MatchPage(messages=rows, newer_cursor=newer)


# --- contact panel ---------------------------------------------------------------------------------------

# The panel lists this many of the customer's other conversations, newest first.
PANEL_OTHER_CONVERSATIONS = 10
# A contact found by the "same person as…" search: this many at most.
CONTACT_SEARCH_LIMIT = 8
_PANEL_CONVERSATION_FIELDS = (
    "public_id", "platform", "account_id", "contact_id", "last_message_at", "last_message_preview", "last_message_direction",
    "unread_count", "status", "business_id",
    "contact__name", "contact__username", "contact__external_id", "contact__picture", "contact__picture_url",
    "account__account_name", "account__account_id", "account__platform",
)
# What Meta's referral `source` means, in staff's words.
_REFERRAL_SOURCES = {
    "ADS": "an ad",
    "SHORTLINK": "an m.me link",
    "CUSTOMER_CHAT_PLUGIN": "the website chat",
    "MESSENGER_CODE": "a Messenger code",
    "DISCOVER_TAB": "Messenger's Discover tab",
}


@dataclass(frozen=True)
class ReferralSource:
    """Where the customer came from into this conversation, from Meta's latest referral in it."""

    source: str  # Meta's `source` (ADS, SHORTLINK …), "" when Meta gave none
    source_label: str  # in words: "an ad", "an m.me link" …
    ad_title: str
    ad_id: str
    ref: str  # the link's or ad's `ref` parameter
    at: dt.datetime


@dataclass(frozen=True)
class ContactPanel:
    conversation: Conversation
    contact: Contact
    # The other identities staff joined to this customer (Messenger, Instagram …), not this one.
    person_contacts: list[Contact]
    # The customer's other conversations in this business (through every identity), newest first.
    other_conversations: list[Conversation]
    first_seen: dt.datetime
    referral: ReferralSource | None
    labels: list[Label]


def _referral_of(message: ChatMessage | None) -> ReferralSource | None:
    if message is None:
        return None
    # A referral event stores Meta's referral object as it is; a message sent from an ad carries it.
    data = message.extra if message.kind == ChatMessage.Kind.REFERRAL else message.extra.get("referral")
    if not isinstance(data, dict):
        return None
    ads = data.get("ads_context_data")
    ad_title = ads.get("ad_title") if isinstance(ads, dict) else None
    source = str(data.get("source") or "").upper()
    return ReferralSource(
        source=source,
        source_label=_REFERRAL_SOURCES.get(source, "a link"),
        ad_title=str(ad_title or "")[:200],
        ad_id=str(data.get("ad_id") or "")[:64],
        ref=str(data.get("ref") or "")[:200],
        at=message.timestamp,
    )


def contact_panel(*, business: Business, conversation: Conversation) -> ContactPanel:
    """What the contact panel beside a thread shows. A fixed number of queries whatever the data: two
    for a customer known by one identity (referral, labels), four once staff joined identities into one
    person (their contacts, their other conversations). `conversation` comes from `conversation_get`
    (its contact and page loaded)."""
    contact = conversation.contact
    person_contacts: list[Contact] = []
    others: list[Conversation] = []
    if contact.person_id is not None:
        person_contacts = list(
            Contact.objects.for_business(business).filter(person_id=contact.person_id).exclude(pk=contact.pk)
            .select_related("account").defer(*ACCOUNT_SECRETS).order_by("created_at", "id")
        )
        others = list(
            Conversation.objects.for_business(business).filter(contact__person_id=contact.person_id)
            .exclude(pk=conversation.pk).select_related("contact", "account").only(*_PANEL_CONVERSATION_FIELDS)
            .order_by("-last_message_at", "-id")[:PANEL_OTHER_CONVERSATIONS]
        )
    latest_referral = (
        ChatMessage.objects.for_business(business).filter(conversation=conversation)
        .filter(Q(kind=ChatMessage.Kind.REFERRAL) | Q(extra__has_key="referral"))
        .only("kind", "extra", "timestamp").order_by("-timestamp", "-id").first()
    )
    labels = list(Label.objects.for_business(business).filter(links__conversation=conversation))
    return ContactPanel(
        conversation=conversation,
        contact=contact,
        person_contacts=person_contacts,
        other_conversations=others,
        # The person was first seen by whichever identity wrote first.
        first_seen=min([contact.created_at, *(c.created_at for c in person_contacts)]),
        referral=_referral_of(latest_referral),
        labels=labels,
    )


def contact_search(*, business: Business, q: str, conversation: Conversation) -> list[Contact]:
    """The business's contacts that could be the same person as this conversation's customer: by name,
    @username or exact id, not this contact nor those already joined to it."""
    q = " ".join(q.split())[:100]
    if not q:
        return []
    contact = conversation.contact
    qs = (
        Contact.objects.for_business(business)
        .filter(Q(name__icontains=q) | Q(username__icontains=q.lstrip("@")) | Q(external_id=q))
        .exclude(pk=contact.pk).select_related("account").defer(*ACCOUNT_SECRETS)
    )
    if contact.person_id is not None:
        qs = qs.exclude(person_id=contact.person_id)
    return list(qs.order_by(Lower("name"), "id")[:CONTACT_SEARCH_LIMIT])


@dataclass(frozen=True)
class BusinessUnread:
    """One of the member's businesses in the top bar's switcher, with its unread conversations."""

    business_id: int
    name: str
    unread_conversations: int

    @property
    def capped(self) -> bool:
        return self.unread_conversations >= UNREAD_COUNT_CAP


def business_unread_list(*, user_id: int) -> list[BusinessUnread]:
    """The businesses this person is a member of (and only those), each with its unread open
    conversations counted up to UNREAD_COUNT_CAP: one query, whatever the number of businesses."""
    capped_unread = RawSQL(
        "SELECT COUNT(*) FROM (SELECT 1 FROM conversations c WHERE c.business_id = accounts_membership.business_id"
        " AND c.unread_count > 0 AND c.status = %s LIMIT %s) capped",
        (Conversation.Status.OPEN.value, UNREAD_COUNT_CAP),
    )
    rows = (
        Membership.objects.filter(user_id=user_id)
        .annotate(unread_capped=capped_unread)
        .order_by(Lower("business__name"), "business_id")
        .values_list("business_id", "business__name", "unread_capped")
    )
    return [BusinessUnread(business_id=pk, name=name, unread_conversations=unread) for pk, name, unread in rows]
