"""Error reports (the debug page, error emails) that never show a token.

Django hides sensitive *settings*, but a traceback's frame variables are shown as they are; the Graph
client's frames hold tokens. This filter hides variables by name and redacts token-looking values.
"""

from __future__ import annotations

import re
from typing import Any

from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

from config.logging import redact


class TokenSafeExceptionReporterFilter(SafeExceptionReporterFilter):
    hidden_settings = re.compile(
        "API|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|AUTHORIZATION|PROOF|ENCRYPTION|DATABASE_URL|REDIS_URL",
        flags=re.IGNORECASE,
    )
    _sensitive_name = re.compile(r"token|secret|proof|password|authorization|cookie|key|signature", re.IGNORECASE)

    def is_active(self, request: Any) -> bool:
        # Also on the debug page: developers copy tracebacks into issues.
        return True

    def get_traceback_frame_variables(self, request: Any, tb_frame: Any) -> list[tuple[str, Any]]:
        cleaned = []
        for name, value in super().get_traceback_frame_variables(request, tb_frame):
            if self._sensitive_name.search(name):
                value = self.cleansed_substitute
            elif isinstance(value, str):
                value = redact(value)
            cleaned.append((name, value))
        return cleaned


class TokenSafeExceptionReporter(ExceptionReporter):
    """The exception's own message can quote a URL with a token (requests' errors do)."""

    def get_traceback_data(self) -> dict[str, Any]:
        data = super().get_traceback_data()
        if isinstance(data.get("exception_value"), str):
            data["exception_value"] = redact(data["exception_value"])
        for frame in data.get("frames", []):
            if isinstance(frame.get("exc_cause"), BaseException):
                frame["exc_cause"] = redact(str(frame["exc_cause"]))
        return data
