"""The sandbox customer: send correctly signed Meta webhooks of every kind to a running server.

    manage.py simulate_customer                                   # one text message to the first page
    manage.py simulate_customer --kind all                        # one event of every kind
    manage.py simulate_customer --count 1000 --rate 200 --batch 10 --duplicates 2
    manage.py simulate_customer --instagram --kind image

Refuses to run unless settings.SANDBOX is on: it signs with the app secret, so on a real installation
it could inject messages.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.served_url import current_urls
from sandbox import payloads as p
from sandbox.customers import default_psid

logger = logging.getLogger(__name__)

KINDS = (
    "text", "image", "video", "audio", "file", "sticker", "location", "fallback", "postback", "reaction",
    "referral", "edit", "delete", "read", "delivery", "echo",
)
# Events the customer makes: they open the messaging window on Meta's (the sandbox's) side.
CUSTOMER_KINDS = frozenset(KINDS) - {"echo", "delivery", "read"}
MEDIA_EXTENSIONS = {"image": "jpg", "video": "mp4", "audio": "mp4", "file": "pdf"}
# Printing every POST of a load run would drown the summary.
MAX_LINES = 50


@dataclass
class Event:
    kind: str
    item: dict[str, Any]


class Command(BaseCommand):
    help = "Send signed Messenger / Instagram webhooks of every kind to a running server (sandbox only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", help="Webhook URL (default: that of the server `runserver` serves for this "
                                          "database, on any port, else settings.SANDBOX_WEBHOOK_URL).")
        parser.add_argument("--page", help="Page id, or Instagram account id with --instagram "
                                           "(default: the first active connected account).")
        parser.add_argument("--psid", help="The customer's PSID / IGSID.")
        parser.add_argument("--text", help="Message text (text, echo and edit kinds).")
        parser.add_argument("--count", type=int, default=1, help="How many times to send the kind (default 1).")
        parser.add_argument("--rate", type=float, default=0, help="Events per second (default: as fast as possible).")
        parser.add_argument("--batch", type=int, default=1, help="Events per POST (default 1).")
        parser.add_argument("--duplicates", type=int, default=1, help="Send each body this many times (default 1).")
        parser.add_argument("--kind", choices=(*KINDS, "all"), default="text")
        parser.add_argument("--instagram", action="store_true", help="Send `object: instagram` webhooks.")
        parser.add_argument("--media-url", help="Attachment URL base (default: SITE_URL/sandbox/media/).")
        parser.add_argument("--timeout", type=float, default=10.0, help="HTTP timeout per POST in seconds.")

    def handle(self, *args: Any, **options: Any) -> None:
        if not getattr(settings, "SANDBOX", False):
            raise CommandError("The customer simulator only runs in the sandbox (settings.SANDBOX is off).")
        for name in ("count", "batch", "duplicates"):
            if options[name] < 1:
                raise CommandError(f"--{name} must be at least 1.")
        if options["rate"] < 0:
            raise CommandError("--rate must not be negative.")
        object_type = "instagram" if options["instagram"] else "page"
        # The running server's address when it recorded one (config/served_url.py); an explicit
        # --url or SITE_URL / SANDBOX_WEBHOOK_URL wins.
        urls = current_urls()
        url = options["url"] or urls["SANDBOX_WEBHOOK_URL"]
        if not url:
            raise CommandError("No --url and no settings.SANDBOX_WEBHOOK_URL.")
        account_id = options["page"] or self._default_account(instagram=options["instagram"])
        # Meta's ids are page-scoped: the default customer has one of its own on each Page.
        psid = options["psid"] or default_psid(account_id, instagram=options["instagram"])
        media_base = options["media_url"] or f"{urls['SITE_URL'].rstrip('/')}/sandbox/media/"
        builder = _Builder(account_id=account_id, psid=psid, text=options["text"], media_base=media_base,
                           instagram=options["instagram"])
        kinds = KINDS if options["kind"] == "all" else (options["kind"],)
        events = [event for n in range(1, options["count"] + 1) for kind in kinds for event in builder.build(kind, n)]
        if any(event.kind in CUSTOMER_KINDS for event in events):
            _register_customer(psid=psid, account_id=account_id)
        self._send(events, url=url, object_type=object_type, account_id=account_id, options=options)

    def _default_account(self, *, instagram: bool) -> str:
        from social.models import Platform, SocialAccount

        platform = Platform.INSTAGRAM if instagram else Platform.FACEBOOK
        account = (
            SocialAccount.objects.filter(platform=platform, status=SocialAccount.Status.ACTIVE)
            .order_by("pk")
            .first()
        )
        if account is None:
            raise CommandError(f"No active {platform.label} account is connected; pass --page.")
        return account.account_id

    def _send(self, events: list[Event], *, url: str, object_type: str, account_id: str, options: dict) -> None:
        secret = settings.FACEBOOK_APP_SECRET
        batch, rate, duplicates = options["batch"], options["rate"], options["duplicates"]
        chunks = [events[i : i + batch] for i in range(0, len(events), batch)]
        total_posts = len(chunks) * duplicates
        verbose = options["verbosity"] >= 2 or total_posts <= MAX_LINES
        statuses: Counter[str] = Counter()
        session = requests.Session()
        started = time.monotonic()
        sent_events = 0
        post_number = 0
        for chunk in chunks:
            if rate:
                # Pace by events, so --rate means messages per second whatever the batch size.
                delay = started + sent_events / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            body = p.encode(p.envelope(
                object_type=object_type,
                entries=[p.entry(account_id=account_id, events=[event.item for event in chunk])],
            ))
            for copy in range(1, duplicates + 1):
                post_number += 1
                status = _post(session, url, body, secret, timeout=options["timeout"])
                statuses[status] += 1
                if verbose:
                    kinds = ", ".join(f"{e.kind} {_describe(e)}" for e in chunk)
                    suffix = f" (copy {copy}/{duplicates})" if duplicates > 1 else ""
                    self.stdout.write(f"POST {post_number}/{total_posts} [{kinds}]{suffix} -> {status}")
            sent_events += len(chunk)
        elapsed = time.monotonic() - started
        summary = ", ".join(f"{status}: {count}" for status, count in sorted(statuses.items()))
        self.stdout.write(
            f"Sent {sent_events} event(s) in {total_posts} POST(s) to {url} for {object_type} {account_id} "
            f"in {elapsed:.2f} s. HTTP statuses: {summary}."
        )
        failures = sum(count for status, count in statuses.items() if status != "200")
        if failures:
            raise CommandError(f"{failures} POST(s) were not answered 200.")


def _register_customer(*, psid: str, account_id: str) -> None:
    """Tell the sandbox's Meta side that this customer wrote, as Meta knows: it opens the 24-hour
    window for replies and makes the profile lookup answer. Best effort: the server may use another
    database than this process."""
    from sandbox.graph import PsidOfAnotherPage, customer_message_received

    try:
        customer_message_received(psid=psid, page_id=account_id)
    except PsidOfAnotherPage as exc:
        raise CommandError(
            f"{exc} A person has a different id on every Page: leave out --psid (each Page has a default "
            "customer) or pass an id not used on another Page."
        ) from exc
    except Exception as exc:  # the webhooks are still worth sending
        logger.warning("The sandbox could not record customer %s: %s", psid, exc)


def _post(session: requests.Session, url: str, body: bytes, secret: str, *, timeout: float) -> str:
    try:
        return str(p.post_webhook(url, body, secret, timeout=timeout, session=session))
    except requests.RequestException as exc:
        return f"error ({type(exc).__name__})"


def _describe(event: Event) -> str:
    item = event.item
    for key in ("message", "postback", "reaction", "message_edit"):
        if key in item and "mid" in item[key]:
            return item[key]["mid"]
    for key in ("delivery", "read", "referral"):
        if key in item:
            return str(item[key].get("watermark") or item[key].get("mid") or item[key].get("ref") or "")
    return ""


class _Builder:
    """Messaging items for one customer, with strictly increasing timestamps (so events sort and
    synthetic ids of postbacks / referrals stay distinct)."""

    def __init__(self, *, account_id: str, psid: str, text: str | None, media_base: str, instagram: bool) -> None:
        self.account_id = account_id
        self.psid = psid
        self.text = text
        self.media_base = media_base if media_base.endswith("/") else media_base + "/"
        self.instagram = instagram
        self.clock = p.now_ms()

    def tick(self) -> int:
        self.clock += 1
        return self.clock

    def message_text(self, n: int) -> str:
        return self.text if self.text is not None else f"Hello from the sandbox customer, message {n}"

    def _text(self, n: int, **extra: Any) -> dict:
        return p.text_message(page_id=self.account_id, psid=self.psid, text=self.message_text(n),
                              timestamp_ms=self.tick(), **extra)

    def build(self, kind: str, n: int) -> list[Event]:
        ids = {"page_id": self.account_id, "psid": self.psid}
        if kind == "text":
            return [Event(kind, self._text(n))]
        if kind in MEDIA_EXTENSIONS:
            url = f"{self.media_base}{kind}.{MEDIA_EXTENSIONS[kind]}"
            return [Event(kind, p.attachment_message(**ids, type=kind, url=url, timestamp_ms=self.tick()))]
        if kind == "sticker":
            url = f"{self.media_base}sticker.png"
            item = p.attachment_message(**ids, type="sticker", url=url, sticker_id=369239263222822,
                                        timestamp_ms=self.tick())
            return [Event(kind, item)]
        if kind == "location":
            item = p.attachment_message(**ids, type="location", url=None,
                                        coordinates={"lat": 48.8566, "long": 2.3522}, timestamp_ms=self.tick())
            return [Event(kind, item)]
        if kind == "fallback":
            item = p.attachment_message(**ids, type="fallback", url="https://example.com/menu", title="Our menu",
                                        timestamp_ms=self.tick())
            return [Event(kind, item)]
        if kind == "postback":
            item = p.postback(**ids, title="Talk to a human", payload="HANDOFF_HUMAN", timestamp_ms=self.tick())
            return [Event(kind, item)]
        if kind == "referral":
            return [Event(kind, p.referral(**ids, ref=f"sandbox-link-{n}", timestamp_ms=self.tick()))]
        if kind in ("reaction", "edit", "delete"):
            # Each needs a message to act on: send it first, in the same run.
            target = self._text(n)
            mid = target["message"]["mid"]
            if kind == "reaction":
                action = p.reaction(**ids, mid=mid, timestamp_ms=self.tick())
            elif kind == "edit":
                action = p.edit(**ids, mid=mid, text=f"{self.message_text(n)} (edited)", timestamp_ms=self.tick())
            else:
                action = p.deleted(**ids, mid=mid, timestamp_ms=self.tick())
            return [Event("text", target), Event(kind, action)]
        if kind == "echo":
            text = self.text if self.text is not None else f"Reply typed in Meta Business Suite, message {n}"
            item = p.echo(**ids, text=text, mid=p.new_mid(), timestamp_ms=self.tick())
            return [Event(kind, item)]
        if kind == "delivery":
            mids = self._outbound_mids()
            return [Event(kind, p.delivery(**ids, mids=mids, watermark_ms=self.tick()))]
        if kind == "read":
            if self.instagram:
                mids = self._outbound_mids()
                item = p.read(**ids, mid=mids[-1]) if mids else p.read(**ids, watermark_ms=self.tick())
            else:
                item = p.read(**ids, watermark_ms=self.tick())
            return [Event(kind, item)]
        raise CommandError(f"Unknown kind {kind!r}")

    def _outbound_mids(self) -> list[str]:
        """Mids of the latest replies to this customer, when this process can see the database."""
        from inbox.models import ChatMessage

        try:
            rows = (
                ChatMessage.objects.filter(
                    account__account_id=self.account_id, conversation__contact__external_id=self.psid,
                    direction=ChatMessage.Direction.OUTBOUND, message_id__isnull=False,
                )
                .order_by("-timestamp")
                .values_list("message_id", flat=True)[:5]
            )
            return list(reversed(rows))
        except Exception:  # a receipt with a watermark alone is still valid
            return []
