"""A logging filter that keeps Meta tokens out of every log line, whatever logged them."""

from __future__ import annotations

import logging
import re

# access_token / input_token / fb_exchange_token / client_secret / appsecret_proof in URLs or bodies,
# and bare Meta tokens (they start with EAA).
_PARAM = re.compile(
    r"((?:access_token|input_token|fb_exchange_token|client_secret|appsecret_proof|code)=)[^&\s'\"]+", re.IGNORECASE
)
_BARE = re.compile(r"\bEAA[A-Za-z0-9]{10,}")


def redact(text: str) -> str:
    return _BARE.sub("EAA[redacted]", _PARAM.sub(r"\1[redacted]", text))


_FORMATTER = logging.Formatter()


class RedactTokensFilter(logging.Filter):
    """Attached to every handler: the message, the traceback and the stack are all redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        # A traceback can quote a URL with a token (requests' ConnectionError does). Formatters use
        # exc_text when it is set, so format it here once, redacted.
        if record.exc_info and not record.exc_text:
            record.exc_text = _FORMATTER.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
