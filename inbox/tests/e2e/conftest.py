"""The browser tier against the production stack when E2E_STACK_URL is set (see stack.py)."""

from __future__ import annotations

import pytest

from inbox.tests.e2e import stack

if stack.EXTERNAL:

    @pytest.fixture(scope="session")
    def django_db_setup(django_db_blocker) -> None:
        """The stack's own database, as it is: a test database would be invisible to the stack."""
        with django_db_blocker.unblock():
            try:
                stack.check_reachable()
            except stack.StackError as exc:
                pytest.fail(str(exc), pytrace=False)

    @pytest.fixture(scope="session", autouse=True)
    def _stack_secrets():
        """Sessions, page tokens and webhook signatures the stack accepts: its own secrets (prod.env)."""
        from django.test import override_settings

        try:
            overrides = override_settings(**stack.settings_overrides())
        except stack.StackError as exc:
            pytest.fail(str(exc), pytrace=False)
        overrides.enable()
        yield
        overrides.disable()


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """The trial stack's proxy has a self-signed certificate."""
    return {**browser_context_args, "ignore_https_errors": True} if stack.EXTERNAL else browser_context_args
