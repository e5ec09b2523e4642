from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest

from inbox.facebook.signature import compute_signature, verify_signature

FIXTURES = Path(__file__).parent / "fixtures" / "facebook"
# Fake App Secret; the HMAC key Meta signs with.
HMAC_KEY = "0123456789abcdef0123456789abcdef"


def load_fixture(name: str) -> bytes:
    # Bytes, never text: the signature is over the exact bytes Meta sent.
    return (FIXTURES / name).read_bytes()


def test_compute_signature_is_sha256_hmac_of_the_raw_bytes() -> None:
    body = load_fixture("message_text.json")
    expected = hmac.new(HMAC_KEY.encode(), body, hashlib.sha256).hexdigest()

    assert compute_signature(body, HMAC_KEY) == f"sha256={expected}"


@pytest.mark.parametrize("name", sorted(path.name for path in FIXTURES.glob("*.json")))
def test_valid_signature_over_fixture_bytes_passes(name: str) -> None:
    body = load_fixture(name)

    assert verify_signature(body, compute_signature(body, HMAC_KEY), HMAC_KEY) is True


def test_reserialised_body_does_not_verify() -> None:
    # The fixture carries "\/" in URLs and "\u0040" for "@", as Meta sends them.
    body = load_fixture("message_text.json")
    assert b"\\u0040" in body
    assert b"\\ud83d\\ude00" in body
    header = compute_signature(body, HMAC_KEY)
    data = json.loads(body)

    for reserialised in (
        json.dumps(data).encode(),
        json.dumps(data, separators=(",", ":")).encode(),
        json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode(),
    ):
        assert json.loads(reserialised) == data  # same content...
        assert verify_signature(reserialised, header, HMAC_KEY) is False  # ...different bytes


def test_escaped_slash_alone_breaks_a_reserialised_body() -> None:
    body = load_fixture("message_image.json")
    assert b"https:\\/\\/" in body
    reserialised = json.dumps(json.loads(body), separators=(",", ":")).encode()

    assert verify_signature(reserialised, compute_signature(body, HMAC_KEY), HMAC_KEY) is False


def test_one_changed_byte_fails() -> None:
    body = load_fixture("message_text.json")
    header = compute_signature(body, HMAC_KEY)

    assert verify_signature(body.replace(b"caf", b"cof"), header, HMAC_KEY) is False
    assert verify_signature(body + b"\n", header, HMAC_KEY) is False


def test_wrong_secret_fails() -> None:
    body = load_fixture("message_text.json")

    assert verify_signature(body, compute_signature(body, "another-secret"), HMAC_KEY) is False


def test_empty_secret_fails_even_with_a_matching_header() -> None:
    body = load_fixture("message_text.json")

    assert verify_signature(body, compute_signature(body, ""), "") is False


@pytest.mark.parametrize("header", [None, ""])
def test_missing_header_fails(header: str | None) -> None:
    body = load_fixture("message_text.json")

    assert verify_signature(body, header, HMAC_KEY) is False


def _bad_headers() -> list[str]:
    body = load_fixture("message_text.json")
    good = compute_signature(body, HMAC_KEY)
    digest = good.removeprefix("sha256=")
    sha1 = hmac.new(HMAC_KEY.encode(), body, hashlib.sha1).hexdigest()
    return [
        f"sha1={sha1}",  # legacy X-Hub-Signature header value
        f"sha1={digest}",  # right digest, wrong prefix
        digest,  # no prefix
        "SHA256=" + digest,
        "sha256=" + digest.upper(),
        "sha256=" + digest[:-1],  # truncated
        "sha256=" + digest[:32],
        "sha256=" + digest + "0",  # too long
        " " + good,
        good + "\n",
        "sha256=",
        "sha256=" + "z" * 64,
        "sha256=" + "\u00e9" * 64,  # non-ASCII must not reach compare_digest (TypeError)
        "garbage",
    ]


@pytest.mark.parametrize("header", _bad_headers())
def test_malformed_header_fails(header: str) -> None:
    body = load_fixture("message_text.json")

    assert verify_signature(body, header, HMAC_KEY) is False
