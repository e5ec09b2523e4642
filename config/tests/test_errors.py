"""Error pages and error emails never show a token, even with DEBUG on."""

from __future__ import annotations

import sys

from django.test import RequestFactory
from django.views.debug import get_exception_reporter_class

# Built at run time so the source lines the report quotes do not contain it.
PAGE_TOKEN = "EAA" + "PageTokenInATraceback" + str(1234567890)


def _failing_graph_call(access_token: str, url: str) -> None:
    proof = "deadbeef" * 8
    raise RuntimeError(f"Graph call failed for {url} ({len(proof)})")


def _report_html(settings) -> str:
    settings.DEBUG = True
    request = RequestFactory().get("/inbox/")
    try:
        _failing_graph_call(PAGE_TOKEN, f"https://graph.facebook.com/v25.0/me?access_token={PAGE_TOKEN}")
    except RuntimeError:
        reporter = get_exception_reporter_class(request)(request, *sys.exc_info())
        return reporter.get_traceback_html() + reporter.get_traceback_text()
    raise AssertionError("the call should have failed")


def test_the_debug_page_hides_token_variables_and_token_values(settings):
    report = _report_html(settings)
    assert "_failing_graph_call" in report  # the frame is there
    assert PAGE_TOKEN not in report
    assert "deadbeef" * 8 not in report


def test_sensitive_settings_are_hidden(settings):
    settings.DEBUG = True
    settings.FACEBOOK_APP_SECRET = "app-secret-never-on-a-page"
    settings.FIELD_ENCRYPTION_KEYS = ["fernet-key-never-on-a-page"]
    report = _report_html(settings)
    assert "app-secret-never-on-a-page" not in report
    assert "fernet-key-never-on-a-page" not in report
