"""Generate a big inbox fast: 100,000 conversations and 1,000,000 messages in ONE business.

Loads PostgreSQL database `bench_pages` with COPY (not the ORM row by row): contacts with names,
conversations with a realistic spread of last-message times, unread counts, statuses (~5 % resolved,
some pending or snoozed) and priorities, with assignees, teams, labels and private notes (TEAM_SHARES),
and their messages (one 5,000-message conversation, many short ones). A second,
small business (60 conversations) lets pages.py compare query counts at both sizes.

Idempotent: an existing data set with the expected counts is reused (migrations are applied first);
anything else is wiped and generated again. `--force` regenerates anyway.

    .venv/bin/python bench/generate_data.py [--conversations 100000 --messages 1000000] [--force]
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import random
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common as c

DB_NAME = "bench_pages"
BIG_SLUG, SMALL_SLUG = "bench-big", "bench-small"
BIG_USER, SMALL_USER = "staff-big@bench.example", "staff-small@bench.example"
PASSWORD = "bench-password-123"
LONG_CONVERSATION_MESSAGES = 5_000
SMALL_CONVERSATIONS, SMALL_MESSAGES = 60, 600
# Words a support inbox sees; "tracking" is in ~0.5 % of messages (pages.py searches it).
_VOCAB = ["hi", "hello", "thanks", "thank", "you", "please", "order", "delivery", "parcel", "price", "size", "colour", "color", "available", "stock", "shop", "open", "today", "tomorrow", "weekend", "address", "refund", "return", "exchange", "invoice", "receipt", "payment", "card", "paypal", "discount", "code", "cake", "bread", "croissant", "birthday", "wedding", "gluten", "vegan", "pickup", "time", "when", "where", "how", "much", "can", "could", "would", "need", "want", "love", "great", "perfect", "sorry", "late", "missing", "wrong", "broken", "photo", "picture", "link", "website", "instagram", "message", "reply"]
# The team's share of the work (bench/pages.py's pages must hold with it): 60 % of conversations have
# an assignee, 30 % a team, 30 % one or two labels, 5 % a private note (half of them mentioning someone).
AGENTS = 8
TEAM_NAMES = ("Orders", "Support")
LABELS = [("VIP", "purple"), ("Refund", "red"), ("Wholesale", "blue"), ("Allergy", "orange"),
          ("Event", "teal"), ("Follow up", "yellow"), ("Complaint", "pink"), ("Press", "grey")]
TEAM_SHARES = {"assigned": 0.6, "team": 0.3, "labelled": 0.3, "noted": 0.05}
# What colleagues write to each other (not the customers' words, whose shares the searches rely on).
NOTES = ["Regular customer, always on time", "Asked the kitchen, answer tomorrow", "Called back, no answer",
         "Second time this week", "Send the wholesale price list", "Check with Marco before promising"]
STATUS_SHARES = {"open": 0.88, "pending": 0.04, "snoozed": 0.03, "resolved": 0.05}
RARE_WORD = "tracking"
# A word in 40 messages (pages.py: search at the rare end) and one in none (search that finds nothing).
VERY_RARE_WORD = "allergen"
ABSENT_WORD = "zeppelin"


def _status(draw: float) -> str:
    """The status STATUS_SHARES gives a uniform draw in [0, 1) (resolved first, as the data always had)."""
    for status in ("resolved", "pending", "snoozed"):
        if draw < STATUS_SHARES[status]:
            return status
        draw -= STATUS_SHARES[status]
    return "open"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _copy_value(value: object) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        return _escape(json.dumps(value))
    return _escape(str(value))


class CopyTable:
    """COPY rows into a model's table: the columns we set vary per row, every other column gets the
    model field's default (so a field added later by a migration does not break generation)."""

    def __init__(self, model, varying: list[str], constants: dict[str, object] | None = None) -> None:
        from django.db.models import JSONField
        from django.utils import timezone

        self.model = model
        self.table = model._meta.db_table
        constants = constants or {}
        now = timezone.now()
        self.columns: list[str] = []
        self.template: list[str | None] = []
        self.slots: list[int] = []
        self.fresh: list[tuple[int, object]] = []
        by_attname = {f.attname: f for f in model._meta.concrete_fields}
        for name in varying:
            if name not in by_attname:
                raise c.BenchError(f"{self.table} has no column {name!r} any more: update bench/generate_data.py.")
        for field in model._meta.concrete_fields:
            name = field.attname
            self.columns.append(field.column)
            if name in varying:
                self.slots.append(len(self.template))
                self.template.append(None)
                continue
            if field.unique and callable(field.default):
                # A unique default (a public UUID): a fresh value on every line.
                self.fresh.append((len(self.template), field))
                self.template.append(None)
                continue
            if name in constants:
                value = constants[name]
            elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
                value = now
            elif field.has_default():
                value = field.get_default()
            elif field.null:
                value = None
            elif field.blank and field.get_internal_type() in ("CharField", "TextField", "SlugField", "URLField",
                                                                 "EmailField", "FileField"):
                value = ""
            else:
                raise c.BenchError(f"{self.table}.{field.column} is NOT NULL without a default; "
                                   "teach bench/generate_data.py to fill it.")
            if isinstance(field, JSONField) and value is not None:
                self.template.append(_escape(json.dumps(value)))
            else:
                self.template.append(_copy_value(value))
        order = {name: index for index, name in enumerate(varying)}
        # Slots are filled in model-field order; remember which varying value goes where.
        self.slot_sources = [order[f.attname] for f in model._meta.concrete_fields if f.attname in order]

    def line(self, values: tuple) -> str:
        parts = list(self.template)
        for slot, source in zip(self.slots, self.slot_sources, strict=True):
            parts[slot] = _copy_value(values[source])
        for slot, field in self.fresh:
            parts[slot] = _copy_value(field.get_default())
        return "\t".join(parts)

    def copy(self, cursor, rows, *, progress=None) -> int:
        columns = ", ".join(f'"{name}"' for name in self.columns)
        count = 0
        buffer = io.StringIO()
        with cursor.copy(f'COPY "{self.table}" ({columns}) FROM STDIN') as copy:
            for values in rows:
                buffer.write(self.line(values))
                buffer.write("\n")
                count += 1
                if count % 20_000 == 0:
                    copy.write(buffer.getvalue())
                    buffer = io.StringIO()
                    if progress is not None:
                        progress.update(20_000)
            copy.write(buffer.getvalue())
        if progress is not None:
            progress.update(count % 20_000)
        return count


def _names(rng: random.Random, count: int) -> tuple[list[str], list[str]]:
    from faker import Faker

    fake = Faker(["en_US", "it_IT", "fr_FR", "de_DE", "es_ES", "pt_BR"])
    fake.seed_instance(11)
    firsts = list({fake.first_name() for _ in range(count)})
    lasts = list({fake.last_name() for _ in range(count)})
    rng.shuffle(firsts)
    rng.shuffle(lasts)
    return firsts, lasts


def _message_counts(rng: random.Random, conversations: int, messages: int) -> list[int]:
    """Per conversation: the first one is long (in a big data set), the rest spread around the mean."""
    long = LONG_CONVERSATION_MESSAGES if messages >= conversations + LONG_CONVERSATION_MESSAGES * 2 else 1
    counts = [long]
    rest = messages - long
    mean = max(1.0, rest / (conversations - 1) - 1)
    for _ in range(conversations - 1):
        counts.append(max(1, int(rng.expovariate(1 / mean)) + 1))
    # Nudge random conversations until the total is exact.
    diff = messages - sum(counts)
    while diff:
        index = rng.randrange(1, conversations)
        if diff > 0:
            counts[index] += 1
            diff -= 1
        elif counts[index] > 1:
            counts[index] -= 1
            diff += 1
    return counts


def _text(rng: random.Random, index: int) -> str:
    words = rng.choices(_VOCAB, k=rng.randint(3, 24))
    if index % 200 == 0:
        words.insert(rng.randrange(len(words)), RARE_WORD)
    if index % 25_000 == 11:
        words.insert(rng.randrange(len(words)), VERY_RARE_WORD)
    if index % 37 == 0:
        words.append(f"order {10_000 + index % 90_000}")
    text = " ".join(words)
    return text[0].upper() + text[1:] + rng.choice((".", "?", "!", "", " 🙂"))


def generate_business(*, slug: str, name: str, email: str, conversations: int, messages: int, seed: int,
                      account_specs: list[tuple[str, str, str, float]]) -> None:
    """One business with its staff user, accounts and inbox, loaded with COPY."""
    from django.db import connection
    from django.utils import timezone
    from tqdm import tqdm

    from accounts.models import Business, Membership, Team, User
    from inbox.models import ChatMessage, Contact, Conversation, ConversationLabel, Label, NoteMention
    from social.models import SocialAccount

    rng = random.Random(seed)
    business = Business.objects.create(name=name, slug=slug)
    user = User.objects.create_user(email=email, password=PASSWORD, name=f"{name} staff")
    owner = Membership.objects.create(user=user, business=business, role=Membership.Role.OWNER)
    # A team's inbox: agents in two teams, labels in use (TEAM_SHARES says how much of each).
    staff = [user]
    memberships = [owner]
    for number in range(1, AGENTS + 1):
        agent = User.objects.create_user(email=f"agent{number}-{slug}@bench.example", password=PASSWORD,
                                         name=f"Agent {number}")
        memberships.append(Membership.objects.create(user=agent, business=business, role=Membership.Role.AGENT))
        staff.append(agent)
    teams = []
    for number, team_name in enumerate(TEAM_NAMES):
        team = Team.objects.create(business=business, name=team_name)
        team.members.set(memberships[number::len(TEAM_NAMES)])
        teams.append(team)
    labels = [Label.objects.create(business=business, name=label_name, colour=colour)
              for label_name, colour in LABELS]
    accounts = []
    for account_id, account_name, platform, share in account_specs:
        account = SocialAccount.objects.create(
            business=business, platform=platform, account_id=account_id, account_name=account_name,
            access_token="bench-page-token", refresh_token="bench-user-token", connected_at=timezone.now(),
        )
        accounts.append((account, share))

    firsts, lasts = _names(rng, 400 if conversations > 1000 else 60)
    counts = _message_counts(rng, conversations, messages) if conversations > 1 else [messages]
    now = timezone.now()
    year = 365 * 86_400

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT coalesce(max(id), 0) FROM {Contact._meta.db_table}")
        contact_base = cursor.fetchone()[0] + 1
        cursor.execute(f"SELECT coalesce(max(id), 0) FROM {Conversation._meta.db_table}")
        conv_base = cursor.fetchone()[0] + 1
        cursor.execute(f"SELECT coalesce(max(id), 0) FROM {ChatMessage._meta.db_table}")
        msg_base = cursor.fetchone()[0] + 1
        cursor.execute(f"SELECT coalesce(max(id), 0) FROM {ConversationLabel._meta.db_table}")
        label_base = cursor.fetchone()[0] + 1
        cursor.execute(f"SELECT coalesce(max(id), 0) FROM {NoteMention._meta.db_table}")
        mention_base = cursor.fetchone()[0] + 1

    account_weights = [share for _, share in accounts]
    plan = []  # per conversation: (account, last_at, status, priority, unread, count)
    for index in range(conversations):
        account = rng.choices([a for a, _ in accounts], weights=account_weights)[0]
        # Skewed to recent: most conversations moved in the last weeks, a tail goes back a year.
        age = year * rng.random() ** 3 if index else 60.0
        last_at = now - dt.timedelta(seconds=age)
        status = _status(rng.random())
        priority = rng.choices(["none", "low", "normal", "high", "urgent"], weights=[70, 10, 10, 7, 3])[0]
        plan.append([account, last_at, status, priority, 0, counts[index]])
    # Who works on what: assignees, teams, labels and private notes, drawn apart from the plan above so
    # that its random sequence (and the messages' words the searches count) stays as it was.
    team_rng = random.Random(seed + 1)
    assignees = [team_rng.choice(staff).pk if team_rng.random() < TEAM_SHARES["assigned"] else None
                 for _ in range(conversations)]
    conversation_teams = [team_rng.choice(teams).pk if team_rng.random() < TEAM_SHARES["team"] else None
                          for _ in range(conversations)]
    conversation_labels = [team_rng.sample(labels, team_rng.choice((1, 1, 2)))
                           if team_rng.random() < TEAM_SHARES["labelled"] else [] for _ in range(conversations)]
    noted = [team_rng.random() < TEAM_SHARES["noted"] for _ in range(conversations)]

    contacts = CopyTable(Contact, ["id", "business_id", "account_id", "platform", "external_id", "name", "username",
                                   "profile_state"])
    conv_table = CopyTable(Conversation, [
        "id", "business_id", "platform", "account_id", "contact_id", "participant_ids", "participant_names",
        "last_message_at", "last_message_preview", "last_message_direction", "unread_count", "status", "priority",
        "last_inbound_at", "created_at", "assignee_id", "team_id", "snoozed_until",
    ])
    msg_table = CopyTable(ChatMessage, [
        "id", "business_id", "platform", "account_id", "conversation_id", "message_id", "direction", "source",
        "sender_id", "sender_name", "content", "timestamp", "status", "is_read", "read_at", "sent_at",
        "created_at", "kind", "sent_by_id",
    ])
    label_table = CopyTable(ConversationLabel, ["id", "business_id", "conversation_id", "label_id", "created_at"])
    mention_table = CopyTable(NoteMention, ["id", "business_id", "note_id", "conversation_id", "user_id", "created_at"])
    mentions = []

    contact_rows = []
    for index, (account, *_rest) in enumerate(plan):
        is_ig = account.platform == "INSTAGRAM"
        display = f"{rng.choice(firsts)} {rng.choice(lasts)}" if rng.random() > 0.03 else ""
        username = (display.lower().replace(" ", ".") if is_ig and display else "")
        contact_rows.append((contact_base + index, business.pk, account.pk, account.platform,
                             str((17_800_000_000_000_000 if is_ig else 7_400_000_000_000_000) + seed * 10**9 + index),
                             "" if is_ig else display, username, "fetched" if display else "pending"))

    def message_rows():
        mid = msg_base
        for index, entry in enumerate(plan):
            account, last_at, _status, _priority, _unread, count = entry
            conv_id = conv_base + index
            psid = contact_rows[index][4]
            name = contact_rows[index][5] or contact_rows[index][6]
            # Gaps between messages: minutes inside a chat, sometimes days between chats.
            gaps = [rng.expovariate(1 / 600) if rng.random() < 0.85 else rng.expovariate(1 / 172_800)
                    for _ in range(count - 1)]
            when = last_at - dt.timedelta(seconds=sum(gaps))
            directions = ["inbound" if rng.random() < 0.6 else "outbound" for _ in range(count)]
            directions[0] = "inbound"  # a conversation starts with the customer
            # Unread: a quarter of the conversations whose last message is the customer's.
            trailing = 0
            for direction in reversed(directions):
                if direction != "inbound":
                    break
                trailing += 1
            unread = min(trailing, 1 + int(rng.expovariate(0.5))) if trailing and rng.random() < 0.25 else 0
            entry[4] = unread
            entry.append(directions[-1])
            for position in range(count):
                if position:
                    when += dt.timedelta(seconds=gaps[position - 1])
                inbound = directions[position] == "inbound"
                text = _text(rng, mid)
                if position == count - 1:
                    entry.append(text)
                    entry.append(when)
                unread_here = inbound and position >= count - unread
                status = "received" if inbound else rng.choices(["read", "delivered", "sent", "failed"],
                                                                weights=[60, 25, 13, 2])[0]
                yield (mid, business.pk, account.platform, account.pk, conv_id, f"m_bench_{seed}_{mid}",
                       directions[position], "customer" if inbound else "inbox",
                       psid if inbound else account.account_id, name if inbound else "", text, when, status,
                       not unread_here if inbound else True, None if unread_here or not inbound else when,
                       None if inbound else when, when, "message", None)
                mid += 1
            if noted[index]:
                # A colleague's note just before the latest message (a note is never the row's latest).
                author = staff[index % len(staff)]
                noted_at = when - dt.timedelta(seconds=30)
                yield (mid, business.pk, account.platform, account.pk, conv_id, None, "internal", "inbox", "",
                       "", NOTES[index % len(NOTES)], noted_at, "sent", True, noted_at, None, noted_at, "note",
                       author.pk)
                if index % 2 == 0:
                    # The signed-in staff user (staff[0]) is the one mentioned, unless they wrote the note:
                    # the mentions page then has rows in both businesses, so its query counts compare.
                    mentioned = staff[0] if author is not staff[0] else staff[1 % len(staff)]
                    mentions.append((mention_base + len(mentions), business.pk, mid, conv_id, mentioned.pk, noted_at))
                mid += 1

    with connection.cursor() as django_cursor:
        cursor = django_cursor.cursor  # psycopg's own cursor: COPY
        with tqdm(total=conversations, desc=f"{slug}: contacts", unit="row", disable=conversations < 1000) as bar:
            contacts.copy(cursor, contact_rows, progress=bar)
        with tqdm(total=messages, desc=f"{slug}: messages", unit="msg", unit_scale=True,
                  disable=messages < 10_000) as bar:
            msg_table.copy(cursor, message_rows(), progress=bar)
        last_inbound = {}
        conv_rows = []
        for index, entry in enumerate(plan):
            account, _last_at, status, priority, unread, _count, last_direction, preview, last_when = entry
            name = contact_rows[index][5] or contact_rows[index][6] or contact_rows[index][4]
            conv_rows.append((conv_base + index, business.pk, account.platform, account.pk, contact_base + index,
                              [contact_rows[index][4], account.account_id], [name, account.account_name], last_when, preview[:255], last_direction, unread,
                              status, priority, last_when if last_direction == "inbound" else
                              last_inbound.get(index, last_when - dt.timedelta(hours=1)),
                              last_when - dt.timedelta(days=1), assignees[index], conversation_teams[index],
                              now + dt.timedelta(hours=1 + index % 48) if status == "snoozed" else None))
        with tqdm(total=conversations, desc=f"{slug}: conversations", unit="row",
                  disable=conversations < 1000) as bar:
            conv_table.copy(cursor, conv_rows, progress=bar)
        label_rows = [(business.pk, conv_base + index, label.pk, now)
                      for index, chosen in enumerate(conversation_labels) for label in chosen]
        label_table.copy(cursor, [(label_base + number, *row) for number, row in enumerate(label_rows)])
        mention_table.copy(cursor, mentions)
        for model in (Contact, Conversation, ChatMessage, ConversationLabel, NoteMention):
            table = model._meta.db_table
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")


def dataset_state(conversations: int, messages: int) -> str:
    """'ok' when the expected data is there, 'empty' when nothing is, 'partial' otherwise."""
    from accounts.models import Business
    from inbox.models import ChatMessage, Conversation

    big = Business.objects.filter(slug=BIG_SLUG).first()
    small = Business.objects.filter(slug=SMALL_SLUG).first()
    if big is None and small is None:
        return "empty"
    if big is None or small is None:
        return "partial"
    from inbox.models import ConversationLabel

    ok = (
        ConversationLabel.objects.filter(business=big).exists()  # generated before labels existed: again
        and Conversation.objects.filter(business=big).count() == conversations
        and ChatMessage.objects.filter(business=big).exclude(kind=ChatMessage.Kind.NOTE).count() == messages
        and Conversation.objects.filter(business=small).count() == SMALL_CONVERSATIONS
    )
    return "ok" if ok else "partial"


def wipe() -> None:
    from django.db import connection

    from accounts.models import AuditEvent, Business, Membership, User
    from inbox.models import Attachment, ChatMessage, Contact, Conversation, PendingMessageUpdate, WebhookEvent
    from social.models import SocialAccount

    models = (Attachment, ChatMessage, PendingMessageUpdate, Conversation, Contact, WebhookEvent, SocialAccount,
              Membership, AuditEvent, Business, User)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE " + ", ".join(f'"{m._meta.db_table}"' for m in models) + " CASCADE")


def ensure_dataset(*, conversations: int, messages: int, force: bool = False,
                   settings: str = "config.settings.production") -> dict:
    """Create/migrate the database and generate the data unless it is already there. Returns facts.

    Configures Django in this process (with `settings`) on the way.
    """
    c.require_python_modules("django", "psycopg", "tqdm", "faker")
    c.require_postgres()
    env = c.django_env(DB_NAME, settings=settings)
    c.db_create(DB_NAME, drop=False)
    c.log(f"migrating {DB_NAME}")
    c.manage(env, "migrate", "--noinput")
    c.django_setup_in_process(env)
    from django.db import connection

    state = dataset_state(conversations, messages)
    generated = False
    seconds = 0.0
    if force or state != "ok":
        if state != "empty":
            c.log(f"existing data is {'being replaced (--force)' if force else 'incomplete'}: wiping it")
            wipe()
        c.log(f"generating {conversations:,} conversations and {messages:,} messages in one business")
        started = time.monotonic()
        with connection.cursor() as cursor:
            # Bulk load: no synchronous commit wait, more memory for the index builds.
            cursor.execute("SET synchronous_commit TO off")
            cursor.execute("SET maintenance_work_mem TO '256MB'")
            # The rows are consistent by construction and messages are loaded before their conversations
            # (which summarise them): skip the per-row foreign key triggers during the load.
            cursor.execute("SET session_replication_role TO replica")
        generate_business(
            slug=BIG_SLUG, name="Bench Bakery Group", email=BIG_USER, conversations=conversations,
            messages=messages, seed=1,
            account_specs=[("104857600999101", "Bench Bakery", "FACEBOOK", 0.5),
                           ("104857600999102", "Bench Bakery Outlet", "FACEBOOK", 0.3),
                           ("17841400999103", "benchbakery", "INSTAGRAM", 0.2)],
        )
        generate_business(
            slug=SMALL_SLUG, name="Bench Corner Shop", email=SMALL_USER, conversations=SMALL_CONVERSATIONS,
            messages=SMALL_MESSAGES, seed=2,
            account_specs=[("104857600999201", "Corner Shop", "FACEBOOK", 0.7),
                           ("17841400999202", "cornershop", "INSTAGRAM", 0.3)],
        )
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role TO DEFAULT")
        c.log("VACUUM ANALYZE")
        connection.close()
        import psycopg

        with psycopg.connect(c.db_url(DB_NAME), autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        seconds = time.monotonic() - started
        generated = True
        c.log(f"generated in {seconds:.0f} s")
    else:
        c.log(f"{DB_NAME} already holds {conversations:,} conversations / {messages:,} messages: reusing it")
    search_text_ensure()
    webhook_events_ensure()
    return {"generated": generated, "seconds": seconds, "env": env}


def search_text_ensure() -> None:
    """Fill the search text the load skipped: its triggers do not fire with session_replication_role
    = replica, so without this every search by a word walks the whole list and finds nothing."""
    import importlib

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM conversation_search_text)")
        if cursor.fetchone()[0]:
            return
        c.log("filling the search text per conversation (the migration's rebuild)")
        migration = importlib.import_module("inbox.migrations.0026_conversation_search_text")
        cursor.execute(migration.REBUILD)
        cursor.execute("ANALYZE conversation_search_text")


# Channel health charts a page's webhook events of the last 48 hours: the big business's first page
# gets a busy page's traffic (one event every ~3.5 s), 0.5 % of it failed and 0.2 % unroutable, beside
# as many events of its other pages. Regenerated when they have aged out of the window.
HEALTH_EVENTS = 50_000
HEALTH_HOURS = 48


def webhook_events_ensure() -> None:
    from datetime import timedelta

    from django.utils import timezone

    from inbox.models import WebhookEvent
    from social.models import SocialAccount

    pages = list(
        SocialAccount.objects.filter(business__slug=BIG_SLUG, platform="FACEBOOK").order_by("id")
        .values_list("account_id", flat=True)
    )
    now = timezone.now()
    since = now - timedelta(hours=HEALTH_HOURS)
    recent = WebhookEvent.objects.filter(received_at__gte=since + timedelta(hours=1), signature="bench")
    if recent.count() >= HEALTH_EVENTS * len(pages) * 0.95:
        _event_hours_ensure(pages)
        return
    c.log(f"generating {HEALTH_EVENTS:,} webhook events per page over the last {HEALTH_HOURS} hours")
    WebhookEvent.objects.filter(signature="bench").delete()
    states = [WebhookEvent.State.PROCESSED] * 993 + [WebhookEvent.State.FAILED] * 5 + [WebhookEvent.State.UNROUTABLE] * 2
    body = b'{"object":"page","entry":[]}'
    for page_id in pages:
        rows = []
        for n in range(HEALTH_EVENTS):
            state = states[n % len(states)]
            rows.append(WebhookEvent(
                body=body, signature="bench", object_type="page", state=state,
                received_at=now - timedelta(seconds=HEALTH_HOURS * 3600 * n / HEALTH_EVENTS),
                account_ids=[] if state == WebhookEvent.State.UNROUTABLE else [page_id],
                unroutable_account_ids=[page_id] if state == WebhookEvent.State.UNROUTABLE else [],
                last_error="OperationalError: bench" if state == WebhookEvent.State.FAILED else "",
            ))
        WebhookEvent.objects.bulk_create(rows, batch_size=5000)
    _event_hours_ensure(pages)


def _event_hours_ensure(pages: list[str]) -> None:
    """The hourly counts the drain keeps as it processes events (these were written, not drained)."""
    from inbox.ingest.event_hours import event_hours_add
    from inbox.models import WebhookEvent, WebhookEventHour

    if WebhookEventHour.objects.filter(meta_id__in=pages).count() >= len(pages) * HEALTH_HOURS:
        return
    WebhookEventHour.objects.filter(meta_id__in=pages).delete()
    events = WebhookEvent.objects.filter(signature="bench").values_list(
        "object_type", "account_ids", "unroutable_account_ids", "received_at"
    )
    chunk: list = []
    for object_type, routed, unroutable, received_at in events.iterator(chunk_size=5000):
        chunk.append((object_type, [*routed, *unroutable], received_at))
        if len(chunk) == 5000:
            event_hours_add(chunk)
            chunk = []
    event_hours_add(chunk)


def main() -> int:
    parser = argparse.ArgumentParser(description="Generate the big inbox data set for bench/pages.py.")
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--force", action="store_true", help="regenerate even if the data is there")
    args = parser.parse_args()
    if args.messages < args.conversations + LONG_CONVERSATION_MESSAGES:
        raise c.BenchError("--messages must be at least --conversations + 5,000 (the long conversation).")
    facts = ensure_dataset(conversations=args.conversations, messages=args.messages, force=args.force)
    import psycopg

    with psycopg.connect(c.db_url(DB_NAME)) as conn:
        size = conn.execute("SELECT pg_size_pretty(pg_database_size(%s))", (DB_NAME,)).fetchone()[0]
    rows = [
        c.Row("generate", "conversations", args.conversations),
        c.Row("generate", "messages", args.messages),
        c.Row("generate", "generated now (else reused)", facts["generated"]),
        c.Row("generate", "generation time", facts["seconds"] or None, "s"),
        c.Row("generate", "database size", size),
    ]
    c.print_table(rows, f"Data set in {DB_NAME}")
    c.write_results("generate_data", rows)
    return 0


if __name__ == "__main__":
    c.main_guard(main)
