"""The browser tier's stack mode (stack.py) without a browser: what it reads from the stack's env file
and what it makes the test process share with the stack. Runs in the unit tier."""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher, PBKDF2PasswordHasher, make_password
from django.test import override_settings

from inbox.tests.e2e import stack


@pytest.fixture
def env_file(tmp_path, monkeypatch):
    path = tmp_path / "prod.env"
    monkeypatch.setenv("E2E_STACK_ENV", str(path))
    for name in stack.SECRET_NAMES:
        monkeypatch.delenv(name, raising=False)
    return path


def test_the_env_file_prod_sh_writes_is_read(env_file) -> None:
    env_file.write_text("# secrets\nDJANGO_SECRET_KEY=abc=def\n\nexport FIELD_ENCRYPTION_KEYS='k1,k2'\n"
                        "FACEBOOK_APP_SECRET=\"s3\"\nFACEBOOK_VERIFY_TOKEN=v\n")
    assert stack.read_env_file(env_file) == {
        "DJANGO_SECRET_KEY": "abc=def", "FIELD_ENCRYPTION_KEYS": "k1,k2", "FACEBOOK_APP_SECRET": "s3",
        "FACEBOOK_VERIFY_TOKEN": "v",
    }


def test_the_files_secrets_win_over_the_environment(env_file, monkeypatch) -> None:
    env_file.write_text("DJANGO_SECRET_KEY=from-file\nFIELD_ENCRYPTION_KEYS=k1, k2\n")
    monkeypatch.setenv("DJANGO_SECRET_KEY", "from-env")
    monkeypatch.setenv("FACEBOOK_APP_SECRET", "app-secret-from-env")
    overrides = stack.settings_overrides()
    assert overrides["SECRET_KEY"] == "from-file"
    assert overrides["FIELD_ENCRYPTION_KEYS"] == ["k1", "k2"]
    assert overrides["FACEBOOK_APP_SECRET"] == "app-secret-from-env"
    assert overrides["SANDBOX_WEBHOOK_VERIFY_TLS"] is False


def test_a_missing_secret_is_named(env_file) -> None:
    env_file.write_text("DJANGO_SECRET_KEY=x\n")
    with pytest.raises(stack.StackError, match="FIELD_ENCRYPTION_KEYS, FACEBOOK_APP_SECRET are unknown"):
        stack.stack_secrets()


def test_no_env_file_and_no_environment_is_refused(env_file) -> None:
    assert not env_file.exists()
    with pytest.raises(stack.StackError, match="DJANGO_SECRET_KEY"):
        stack.stack_secrets()


def test_passwords_of_test_users_verify_with_productions_hasher(env_file) -> None:
    env_file.write_text("DJANGO_SECRET_KEY=x\nFIELD_ENCRYPTION_KEYS=k\nFACEBOOK_APP_SECRET=s\n")
    with override_settings(PASSWORD_HASHERS=stack.settings_overrides()["PASSWORD_HASHERS"]):
        encoded = make_password("correct horse battery staple")
    # The stack (production settings) knows PBKDF2, whose hash names its own iterations ...
    assert PBKDF2PasswordHasher().verify("correct horse battery staple", encoded)
    assert not PBKDF2PasswordHasher().verify("wrong", encoded)
    # ... and not the test settings' MD5, whose hashes it could never check.
    assert MD5PasswordHasher.algorithm != encoded.split("$", 1)[0]


def test_names_made_unique_per_test() -> None:
    tag = stack.run_tag()
    assert stack.unique_email("marco@bakery.example", tag) == f"marco+e2e{tag}@bakery.example"
    assert tag != stack.run_tag()
