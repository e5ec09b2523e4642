"""A pytest plugin (registered by the root conftest.py) that fails any test during which a token was logged.

Every log record created in the test process passes through a record factory installed here, so the
check sees records of every logger — also those that do not propagate to the root (``django.server``,
``celery``) and those no handler prints. It looks at the message with its arguments applied and at
the text of an attached exception and its causes (``requests`` puts the URL, query string included,
into its exception messages), because that is what a handler writes. The check runs on the raw record,
before ``config.logging.RedactTokensFilter``: the filter is a safety net on the console handler only,
and any other handler an operator adds (Sentry, a file) would not have it.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading

import pytest

# Meta tokens start with EAA (the factories use "EAAPageToken…" / "EAAUserToken…", the sandbox mints
# "EAA…" tokens too); secrets also travel as query parameters of the OAuth endpoints.
TOKEN_PATTERNS = (
    re.compile(r"EAA[A-Za-z0-9]{10,}"),
    re.compile(
        r"\b(?:access_token|input_token|fb_exchange_token|client_secret|appsecret_proof)=(?!\[redacted\])[^&\s'\"]+",
        re.IGNORECASE,
    ),
    re.compile(r"Bearer\s+(?!\[redacted\])[A-Za-z0-9._~+/=-]{10,}"),
)
# The sandbox's fixed app secret: appears in no legitimate log line.
LITERAL_SECRETS = ("sandbox-app-secret",)


def find_secret(text: str) -> str | None:
    """The first token-looking substring of ``text``, or None."""
    for pattern in TOKEN_PATTERNS:
        match = pattern.search(text)
        if match:
            return match.group(0)
    for literal in LITERAL_SECRETS:
        if literal in text:
            return literal
    return None


def _exception_texts(exc: BaseException | None) -> list[str]:
    texts: list[str] = []
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen and len(texts) < 10:
        seen.add(id(exc))
        try:
            texts.append(f"{type(exc).__name__}: {exc}")
        except Exception:  # a broken __str__ must not break logging
            texts.append(type(exc).__name__)
        exc = exc.__cause__ or exc.__context__
    return texts


def record_texts(record: logging.LogRecord) -> list[str]:
    """What a handler would write for ``record``: the message and the exception chain."""
    try:
        texts = [record.getMessage()]
    except Exception:  # mismatched args: check the raw parts instead
        texts = [str(record.msg), repr(record.args)]
    if record.exc_info and record.exc_info[1] is not None:
        texts.extend(_exception_texts(record.exc_info[1]))
    if record.exc_text:
        texts.append(record.exc_text)
    return texts


class LeakCollector:
    """Collects (logger, level, excerpt) for each record carrying a secret; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.leaks: list[str] = []
        self.active = False

    def check(self, record: logging.LogRecord) -> None:
        if not self.active:
            return
        for text in record_texts(record):
            secret = find_secret(text)
            if secret:
                start = max(text.find(secret) - 60, 0)
                excerpt = text[start : start + 160].replace("\n", " ")
                with self._lock:
                    self.leaks.append(f"{record.name} {record.levelname}: …{excerpt}…")
                return

    def take(self) -> list[str]:
        with self._lock:
            leaks, self.leaks = self.leaks, []
        return leaks


collector = LeakCollector()
_installed = False


def install() -> None:
    """Chain a record factory that lets the collector see every record created in this process."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        # The guard must never break the code under test.
        with contextlib.suppress(Exception):
            collector.check(record)
        return record

    logging.setLogRecordFactory(factory)
    _installed = True


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "allow_token_in_logs: the test logs a token on purpose (tests of the guard)")
    install()


@pytest.fixture(autouse=True)
def _no_token_in_logs(request: pytest.FixtureRequest):
    """Fail the test if any log record created while it ran (setup included) carries a token."""
    if request.node.get_closest_marker("allow_token_in_logs"):
        yield
        return
    collector.take()
    collector.active = True
    try:
        yield
    finally:
        collector.active = False
        leaks = collector.take()
    if leaks:
        listing = "\n  ".join(leaks[:10])
        pytest.fail(f"A token or secret was written to the log ({len(leaks)} record(s)):\n  {listing}", pytrace=False)
