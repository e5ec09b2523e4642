from __future__ import annotations

import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection

from social import crypto
from social.models import SocialAccount
from social.tests.factories import SocialAccountFactory

pytestmark = pytest.mark.django_db

PAGE_TOKEN = "EAAPageTokenPlaintextValue1234567890"


def raw_columns(account_id: int) -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT access_token, refresh_token FROM social_accounts WHERE id = %s", [account_id])
        return cursor.fetchone()


@pytest.fixture(autouse=True)
def _fresh_keys():
    crypto.reset_keys()
    yield
    crypto.reset_keys()


def test_token_is_ciphertext_in_the_table_and_plaintext_through_the_model(business):
    account = SocialAccountFactory(business=business, access_token=PAGE_TOKEN, refresh_token="EAAUserToken999")
    access_raw, refresh_raw = raw_columns(account.pk)
    assert PAGE_TOKEN not in access_raw
    assert "EAAUserToken999" not in refresh_raw
    assert access_raw.startswith("gAAAAA")  # a Fernet token
    reloaded = SocialAccount.objects.get(pk=account.pk)
    assert reloaded.access_token == PAGE_TOKEN
    assert reloaded.refresh_token == "EAAUserToken999"


def test_empty_token_stays_empty_and_needs_no_key(business, settings):
    account = SocialAccountFactory(business=business, access_token="", refresh_token="")
    assert raw_columns(account.pk) == ("", "")


def test_a_wrong_key_cannot_read_the_token(business, settings):
    account = SocialAccountFactory(business=business, access_token=PAGE_TOKEN)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    crypto.reset_keys()
    with pytest.raises(crypto.InvalidToken):
        SocialAccount.objects.get(pk=account.pk)


def test_rotation_re_encrypts_under_the_new_key_and_the_old_key_can_be_dropped(business, settings):
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    accounts = [SocialAccountFactory(business=business, access_token=f"{PAGE_TOKEN}{i}") for i in range(5)]
    before = {a.pk: raw_columns(a.pk) for a in accounts}

    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]  # newest first
    crypto.reset_keys()
    out = io.StringIO()
    call_command("rotate_encryption_keys", "--batch-size", "2", stdout=out)
    assert "Re-encrypted 5 account(s)" in out.getvalue()
    for account in accounts:
        assert raw_columns(account.pk)[0] != before[account.pk][0]

    settings.FIELD_ENCRYPTION_KEYS = [new_key]  # the old key is gone
    crypto.reset_keys()
    for i, account in enumerate(accounts):
        assert SocialAccount.objects.get(pk=account.pk).access_token == f"{PAGE_TOKEN}{i}"


def test_rotation_can_be_run_twice(business, settings):
    account = SocialAccountFactory(business=business, access_token=PAGE_TOKEN)
    call_command("rotate_encryption_keys", stdout=io.StringIO())
    call_command("rotate_encryption_keys", stdout=io.StringIO())
    assert SocialAccount.objects.get(pk=account.pk).access_token == PAGE_TOKEN


def test_rotation_stops_with_a_clear_error_when_a_key_is_missing(business, settings):
    SocialAccountFactory(business=business, access_token=PAGE_TOKEN)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    crypto.reset_keys()
    with pytest.raises(CommandError, match="no listed key can decrypt"):
        call_command("rotate_encryption_keys", stdout=io.StringIO())


def test_invalid_key_is_a_configuration_error(settings):
    settings.FIELD_ENCRYPTION_KEYS = ["not-a-key"]
    crypto.reset_keys()
    with pytest.raises(Exception, match="invalid Fernet key"):
        crypto.encrypt("x")


def test_system_check_refuses_missing_or_bad_keys(settings):
    from social.checks import check_field_encryption_keys

    settings.FIELD_ENCRYPTION_KEYS = []
    assert [e.id for e in check_field_encryption_keys(None)] == ["social.E001"]
    settings.FIELD_ENCRYPTION_KEYS = ["nope"]
    assert [e.id for e in check_field_encryption_keys(None)] == ["social.E002"]


def test_str_and_repr_never_show_a_token(business):
    account = SocialAccountFactory(business=business, access_token=PAGE_TOKEN, account_name="Bakery")
    assert PAGE_TOKEN not in str(account)
    assert PAGE_TOKEN not in repr(account)
