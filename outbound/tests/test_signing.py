"""The signature of deliveries, checked by our verifier and by the stand-alone example receiver."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pytest

from outbound.signing import TOLERANCE_SECONDS, secret_new, signature_header, signature_verify

BODY = b'{"id":"e1","type":"message.created","data":{}}'
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "webhook_receiver.py"


def _example():
    spec = importlib.util.spec_from_file_location("webhook_receiver", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(params=["ours", "example"])
def verify(request):
    if request.param == "ours":
        return lambda secret, body, header, now: signature_verify(secret, body, header, now=now)
    example = _example()
    return lambda secret, body, header, now: example.verify(secret, body, header, now=now)


def test_a_signature_verifies_with_the_secret_and_not_with_another(verify):
    secret, now = secret_new(), time.time()
    header = signature_header(secret, BODY, int(now))

    assert verify(secret, BODY, header, now)
    assert not verify(secret_new(), BODY, header, now)
    assert not verify(secret, BODY + b" ", header, now)


def test_a_signature_older_or_newer_than_the_tolerance_is_refused(verify):
    secret, signed_at = secret_new(), 1_700_000_000
    header = signature_header(secret, BODY, signed_at)

    assert verify(secret, BODY, header, signed_at + TOLERANCE_SECONDS)
    assert not verify(secret, BODY, header, signed_at + TOLERANCE_SECONDS + 1)
    assert not verify(secret, BODY, header, signed_at - TOLERANCE_SECONDS - 1)


def test_a_timestamp_changed_in_the_header_breaks_the_signature(verify):
    secret, now = secret_new(), int(time.time())
    header = signature_header(secret, BODY, now - 3600)
    forged = header.replace(f"t={now - 3600}", f"t={now}")

    assert not verify(secret, BODY, forged, now)


@pytest.mark.parametrize("header", ["", "v1=abc", "t=abc,v1=abc", "garbage"])
def test_a_malformed_header_is_refused(verify, header):
    assert not verify(secret_new(), BODY, header, time.time())


def test_secrets_are_new_each_time():
    assert secret_new() != secret_new()
    assert secret_new().startswith("whsec_")
