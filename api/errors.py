"""Every API error as one JSON shape: `{"error": {"code": "...", "message": "..."}}`."""

from __future__ import annotations

from django.http import JsonResponse


class ApiError(Exception):
    """An answer other than success, raised anywhere below an endpoint and rendered by `error_response`."""

    def __init__(self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def error_response(status: int, code: str, message: str, *, headers: dict[str, str] | None = None) -> JsonResponse:
    response = JsonResponse({"error": {"code": code, "message": message}}, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def not_found(what: str = "object") -> ApiError:
    return ApiError(404, "not_found", f"No such {what}.")
