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


class RedactTokensFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
