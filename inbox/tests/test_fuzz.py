"""Property-based tests: whatever Meta (or an attacker holding no secret) sends, nothing crashes or is lost.

The parser may only ever raise ``PayloadError``; the signed webhook endpoint answers 200 and stores the
exact bytes of every signed POST, once; processing a stored event never raises out of the task and
leaves the event in a final state.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inbox.facebook.events import BaseEvent
from inbox.facebook.parsing import ParseResult, PayloadError, parse_body, parse_payload
from inbox.facebook.signature import compute_signature
from inbox.models import WebhookEvent

FIXTURES = Path(__file__).parent / "fixtures" / "facebook"
FIXTURE_BYTES = {path.name: path.read_bytes() for path in sorted(FIXTURES.glob("*.json"))}
FIXTURE_DATA = {name: json.loads(body) for name, body in FIXTURE_BYTES.items()}

FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,  # no example database written into the repository
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
FUZZ_DB = settings(FUZZ, max_examples=100)

# --- strategies -----------------------------------------------------------------------------------

# Values Meta never sends but a broken proxy, a new API version or an attacker might.
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(["", "0", "-1", "1e400", "NaN", "m_", "\x00", "\ud7ff", "EAA", "2024-13-45T99:99:99Z"]),
    st.sampled_from([1731580799876, 1731580799, "1731580799", 10**30, -(10**30), 0]),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=12), children, max_size=4),
    ),
    max_leaves=20,
)
# Keys the parser looks for, so random objects reach deep code paths.
meta_keys = st.sampled_from([
    "object", "entry", "id", "time", "messaging", "standby", "changes", "field", "value", "sender", "recipient",
    "timestamp", "message", "mid", "text", "attachments", "type", "payload", "url", "is_echo", "app_id", "metadata",
    "quick_reply", "reply_to", "story", "delivery", "mids", "watermark", "read", "reaction", "action", "emoji",
    "postback", "title", "referral", "ref", "source", "ads_context_data", "message_edit", "num_edit", "is_deleted",
    "is_unsupported", "coordinates", "lat", "long", "sticker_id", "user_ref",
])
meta_like = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(meta_keys, children, max_size=6),
    ),
    max_leaves=30,
)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path (tuple of keys / indexes) into a JSON value, the root included."""
    paths = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            paths.extend(_paths(child, (*prefix, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            paths.extend(_paths(child, (*prefix, index)))
    return paths


def _get(value: Any, path: tuple) -> Any:
    for step in path:
        value = value[step]
    return value


@st.composite
def mutated_payloads(draw) -> Any:
    """A fixture envelope with 1–4 random mutations: values replaced or retyped, keys dropped or added."""
    payload = copy.deepcopy(FIXTURE_DATA[draw(st.sampled_from(sorted(FIXTURE_DATA)))])
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        paths = _paths(payload)
        path = draw(st.sampled_from(paths))
        operation = draw(st.sampled_from(["replace", "retype", "drop", "add", "wrap", "duplicate"]))
        if not path:
            if operation in ("replace", "wrap"):
                payload = draw(meta_like) if operation == "replace" else [payload]
            continue
        parent = _get(payload, path[:-1])
        key = path[-1]
        current = parent[key]
        if operation == "replace":
            parent[key] = draw(meta_like)
        elif operation == "retype":
            parent[key] = draw(st.sampled_from([str(current), [current], {"value": current}, None, True, 0, ""]))
        elif operation == "drop":
            del parent[key]
        elif operation == "add" and isinstance(current, dict):
            current[draw(meta_keys)] = draw(meta_like)
        elif operation == "wrap":
            parent[key] = [current]
        elif operation == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(current))
    return payload


@st.composite
def mutated_bytes(draw) -> bytes:
    """A fixture body with bytes flipped, cut out or inserted (what a broken proxy could deliver)."""
    body = bytearray(FIXTURE_BYTES[draw(st.sampled_from(sorted(FIXTURE_BYTES)))])
    for _ in range(draw(st.integers(min_value=1, max_value=5))):
        position = draw(st.integers(min_value=0, max_value=len(body)))
        operation = draw(st.sampled_from(["flip", "cut", "insert"]))
        if operation == "flip" and position < len(body):
            body[position] = draw(st.integers(min_value=0, max_value=255))
        elif operation == "cut":
            del body[position : position + draw(st.integers(min_value=1, max_value=20))]
        else:
            body[position:position] = draw(st.binary(min_size=1, max_size=8))
    return bytes(body)


def _encode(payload: Any) -> bytes:
    # allow_nan=False: a float that is not JSON would make the body, not the parser, the subject.
    return json.dumps(payload, ensure_ascii=True, separators=(",", ":")).encode()


# --- the parser -----------------------------------------------------------------------------------


def _check_result(result: ParseResult, data: Any) -> None:
    assert isinstance(result, ParseResult)
    assert all(isinstance(event, BaseEvent) for event in result.events)
    assert all(isinstance(reason, str) for reason in result.skipped)
    # Tenant routing: every event belongs to an entry that named its page / account id.
    entry_ids = {str(entry.get("id")) for entry in data.get("entry", []) if isinstance(entry, dict)}
    for event in result.events:
        assert isinstance(event.account_id, str)
        assert event.account_id
        assert event.account_id in entry_ids


def _parse(body: bytes) -> ParseResult | None:
    """parse_body + parse_payload; None when the body was refused with PayloadError (the only allowed error)."""
    try:
        data = parse_body(body)
    except PayloadError:
        return None
    try:
        result = parse_payload(data)
    except PayloadError:
        return None
    _check_result(result, data)
    return result


@pytest.mark.parametrize("name", sorted(FIXTURE_BYTES))
def test_every_fixture_parses_into_events(name):
    result = _parse(FIXTURE_BYTES[name])
    assert result is not None
    assert result.events, f"{name} gave no event"


@FUZZ
@given(st.binary(max_size=512))
def test_random_bytes_only_ever_raise_payload_error(body):
    _parse(body)


@FUZZ
@given(mutated_bytes())
def test_corrupted_fixture_bytes_only_ever_raise_payload_error(body):
    _parse(body)


@FUZZ
@given(json_values)
def test_random_json_only_ever_raises_payload_error(value):
    _parse(_encode(value))


@FUZZ
@given(meta_like)
def test_random_meta_shaped_json_only_ever_raises_payload_error(value):
    _parse(_encode({"object": "page", "entry": value}) if not isinstance(value, dict) else _encode(value))


@FUZZ
@given(mutated_payloads())
def test_mutated_fixtures_only_ever_raise_payload_error(payload):
    _parse(_encode(payload))


@FUZZ
@given(mutated_payloads())
def test_parse_payload_accepts_any_python_value_without_crashing(payload):
    # Called on an already-decoded value (no parse_body in front): still only PayloadError.
    try:
        result = parse_payload(payload)
    except PayloadError:
        return
    _check_result(result, payload)


def test_pathologically_nested_json_is_a_payload_error():
    for body in (b"[" * 200_000, b'{"a":' * 200_000, b'{"object":"page","entry":' + b"[" * 100_000):
        with pytest.raises(PayloadError):
            parse_payload(parse_body(body))


def test_one_bad_item_does_not_cost_the_others():
    payload = copy.deepcopy(FIXTURE_DATA["batched_entries.json"])
    good = len(parse_payload(payload).events)
    payload["entry"][0]["messaging"].insert(1, {"sender": 5, "message": "not an object"})
    payload["entry"][0]["messaging"].insert(0, None)
    result = parse_payload(payload)
    assert len(result.events) == good
    assert len(result.skipped) >= 2


# --- the signed webhook endpoint ------------------------------------------------------------------

class _Rollback(Exception):
    """Raised to undo one example's rows, so each example starts from the same database."""


def _post_signed(client, body: bytes):
    from django.conf import settings as django_settings

    return client.post(
        reverse("webhooks:facebook"), body, content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256=compute_signature(body, django_settings.FACEBOOK_APP_SECRET),
    )


def _is_refused_input(body: bytes) -> bool:
    try:
        parse_payload(parse_body(body))
    except PayloadError:
        return True
    return False


def _post_and_process(client, body: bytes) -> None:
    """One signed POST: 200, one stored row with the exact bytes; processing ends in a final state."""
    from inbox.tasks import webhook_event_process

    try:
        with transaction.atomic():
            before = set(WebhookEvent.objects.values_list("pk", flat=True))
            response = _post_signed(client, body)
            assert response.status_code == 200, response.status_code
            new = list(WebhookEvent.objects.exclude(pk__in=before))
            assert len(new) == 1, f"{len(new)} rows stored for one POST"
            event = new[0]
            assert bytes(event.body) == body
            # The task itself, called the way a worker calls it: it must not raise.
            webhook_event_process(event.pk)
            event.refresh_from_db()
            assert event.state != WebhookEvent.State.PENDING
            if event.state == WebhookEvent.State.FAILED:
                # Only a body that is not a webhook envelope may fail; anything else is a crash in ingest.
                assert _is_refused_input(body), f"processing failed on a valid envelope: {event.last_error[:500]}"
            raise _Rollback
    except _Rollback:
        pass


@pytest.fixture
def pages(page, other_page):
    """The pages the fixtures are addressed to, so mutated fixtures are really applied, not just stored."""
    from social.models import Platform
    from social.tests.factories import SocialAccountFactory

    instagram = SocialAccountFactory(business=page.business, platform=Platform.INSTAGRAM, account_id="17841400000000000",
                                     page=page)
    return page, other_page, instagram


@pytest.mark.django_db
@FUZZ_DB
@given(body=st.binary(max_size=512))
def test_signed_random_bytes_are_stored_exactly_and_never_crash(client, pages, body):
    _post_and_process(client, body)


@pytest.mark.django_db
@FUZZ_DB
@given(payload=mutated_payloads())
def test_signed_mutated_payloads_are_stored_exactly_and_processed(client, pages, payload):
    _post_and_process(client, _encode(payload))


@pytest.mark.django_db
@FUZZ_DB
@given(body=mutated_bytes())
def test_signed_corrupted_fixtures_are_stored_exactly_and_never_crash(client, pages, body):
    _post_and_process(client, body)


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(FIXTURE_BYTES))
def test_every_fixture_is_processed_without_failure(client, pages, name):
    from inbox.tasks import webhook_event_process

    body = FIXTURE_BYTES[name]
    assert _post_signed(client, body).status_code == 200
    event = WebhookEvent.objects.get()
    webhook_event_process(event.pk)
    event.refresh_from_db()
    assert event.state in (WebhookEvent.State.PROCESSED, WebhookEvent.State.UNROUTABLE), event.last_error


@pytest.mark.django_db
def test_the_same_signed_body_twice_is_two_rows_and_one_set_of_messages(client, page):
    from inbox.models import ChatMessage
    from inbox.tasks import webhook_event_process

    body = FIXTURE_BYTES["message_text.json"]
    for _ in range(2):
        assert _post_signed(client, body).status_code == 200
    for event in WebhookEvent.objects.all():
        webhook_event_process(event.pk)
    assert WebhookEvent.objects.filter(state=WebhookEvent.State.PROCESSED).count() == 2
    assert ChatMessage.objects.filter(account=page).count() == 1


@pytest.mark.django_db
@FUZZ_DB
@given(body=st.binary(max_size=256), header=st.one_of(
    st.none(), st.text(max_size=80), st.just("sha256="), st.just("sha256=" + "0" * 64),
    st.binary(min_size=32, max_size=32).map(lambda b: "sha256=" + b.hex()),
    st.just("sha1=" + "0" * 40),
))
def test_unsigned_or_badly_signed_posts_are_refused_and_never_stored(client, body, header):
    extra = {} if header is None else {"HTTP_X_HUB_SIGNATURE_256": header}
    before = WebhookEvent.objects.count()
    response = client.post(reverse("webhooks:facebook"), body, content_type="application/json", **extra)
    assert response.status_code == 403
    assert WebhookEvent.objects.count() == before


# --- oversized bodies -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_oversized_signed_body_is_refused_cleanly(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4096
    body = _encode({"object": "page", "entry": [{"id": "104857600123456", "pad": "x" * 5000}]})
    response = _post_signed(client, body)
    assert response.status_code in (400, 413)
    assert not WebhookEvent.objects.exists()


@pytest.mark.django_db
def test_a_body_over_the_default_limit_is_refused_cleanly(client):
    from django.conf import settings

    body = b'{"object":"page","entry":[],"pad":"' + b"x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE + b'"}'
    response = _post_signed(client, body)
    assert response.status_code in (400, 413)
    assert not WebhookEvent.objects.exists()


@pytest.mark.django_db
def test_an_oversized_unsigned_body_is_refused_without_being_read(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4096
    response = client.post(reverse("webhooks:facebook"), b"x" * 10_000, content_type="application/json")
    assert response.status_code in (403, 413)
    assert not WebhookEvent.objects.exists()


@pytest.mark.django_db
def test_a_full_batch_of_1000_updates_is_accepted(client, page):
    """Meta batches up to 1000 updates in one POST (docs/messenger-platform.md §5): that is not "oversized"."""
    from sandbox import payloads

    items = [
        payloads.text_message(page_id=page.account_id, psid="7012345678901234", text="x" * 200, mid=f"m_full_{i}")
        for i in range(1000)
    ]
    body = payloads.encode(payloads.envelope(object_type="page", entries=[
        payloads.entry(account_id=page.account_id, events=items)
    ]))
    assert _post_signed(client, body).status_code == 200
    assert bytes(WebhookEvent.objects.get().body) == body
