"""Meta's signed_request: the credential of the data-deletion and deauthorize callbacks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from social.signed_request import SignedRequestError, signed_request_build, signed_request_parse

SECRET = "app-secret-for-tests"
NOW = 1_767_225_600


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def signed(payload: dict, *, secret: str = SECRET) -> str:
    encoded = b64(json.dumps(payload).encode())
    return b64(hmac.new(secret.encode(), encoded.encode(), hashlib.sha256).digest()) + "." + encoded


def test_a_good_request_gives_the_app_scoped_user_id():
    value = signed({"algorithm": "HMAC-SHA256", "expires": 0, "issued_at": NOW - 10, "user_id": "218471"})
    parsed = signed_request_parse(value, secret=SECRET, now=NOW)
    assert parsed.user_id == "218471"
    assert parsed.issued_at == NOW - 10


def test_the_builder_makes_what_the_parser_accepts_and_padding_is_tolerated():
    value = signed_request_build({"issued_at": NOW, "user_id": "42"}, secret=SECRET)
    signature, payload = value.split(".")
    # Meta has been seen to pad the signature with "=": still the same signature.
    assert signed_request_parse(f"{signature}=.{payload}", secret=SECRET, now=NOW).user_id == "42"


def test_a_numeric_user_id_is_read_as_text():
    value = signed({"algorithm": "HMAC-SHA256", "issued_at": NOW, "user_id": 1234567})
    assert signed_request_parse(value, secret=SECRET, now=NOW).user_id == "1234567"


def test_another_secret_is_refused():
    value = signed({"algorithm": "HMAC-SHA256", "issued_at": NOW, "user_id": "1"}, secret="someone-else")
    with pytest.raises(SignedRequestError, match="signature does not match"):
        signed_request_parse(value, secret=SECRET, now=NOW)


def test_a_tampered_payload_is_refused():
    value = signed({"algorithm": "HMAC-SHA256", "issued_at": NOW, "user_id": "1"})
    signature, _ = value.split(".")
    forged = b64(json.dumps({"algorithm": "HMAC-SHA256", "issued_at": NOW, "user_id": "2"}).encode())
    with pytest.raises(SignedRequestError, match="signature"):
        signed_request_parse(f"{signature}.{forged}", secret=SECRET, now=NOW)


@pytest.mark.parametrize("algorithm", ["HMAC-SHA1", "none", ""])
def test_another_algorithm_is_refused(algorithm):
    value = signed({"algorithm": algorithm, "issued_at": NOW, "user_id": "1"})
    with pytest.raises(SignedRequestError, match="algorithm must be HMAC-SHA256"):
        signed_request_parse(value, secret=SECRET, now=NOW)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "missing"),
        ("no-dot-here", "not '<signature>.<payload>'"),
        (".payload", "not '<signature>.<payload>'"),
        ("abc.!!!!", "payload is not valid base64url"),
        ("a.b.c", "base64url"),
        ("é.abc", "signature is not valid base64url"),
        (f"{b64(b'sig')}.{b64(b'not json')}", "payload is not JSON"),
        (f"{b64(b'sig')}.{b64(b'[1, 2]')}", "not a JSON object"),
    ],
)
def test_malformed_requests_are_refused_with_a_reason(value, message):
    with pytest.raises(SignedRequestError, match=message.replace("(", r"\(").replace(")", r"\)")):
        signed_request_parse(value, secret=SECRET, now=NOW)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"algorithm": "HMAC-SHA256", "issued_at": NOW}, "no user_id"),
        ({"algorithm": "HMAC-SHA256", "issued_at": NOW, "user_id": ""}, "no user_id"),
        ({"algorithm": "HMAC-SHA256", "issued_at": NOW, "user_id": True}, "no user_id"),
        ({"algorithm": "HMAC-SHA256", "user_id": "1"}, "no issued_at"),
        ({"algorithm": "HMAC-SHA256", "user_id": "1", "issued_at": "yesterday"}, "no issued_at"),
    ],
)
def test_missing_fields_are_refused(payload, message):
    with pytest.raises(SignedRequestError, match=message):
        signed_request_parse(signed(payload), secret=SECRET, now=NOW)


def test_an_old_request_has_expired_and_one_from_the_future_is_refused():
    old = signed({"algorithm": "HMAC-SHA256", "issued_at": NOW - 2 * 24 * 3600, "user_id": "1"})
    with pytest.raises(SignedRequestError, match="expired"):
        signed_request_parse(old, secret=SECRET, now=NOW)
    future = signed({"algorithm": "HMAC-SHA256", "issued_at": NOW + 3600, "user_id": "1"})
    with pytest.raises(SignedRequestError, match="future"):
        signed_request_parse(future, secret=SECRET, now=NOW)


def test_without_an_app_secret_nothing_verifies():
    value = signed({"algorithm": "HMAC-SHA256", "issued_at": NOW, "user_id": "1"}, secret="")
    with pytest.raises(SignedRequestError, match="app secret is not configured"):
        signed_request_parse(value, secret="", now=NOW)
