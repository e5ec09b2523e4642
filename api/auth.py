"""`Authorization: Bearer <key>` for every endpoint: the body's size, the key, its rate, and an audit row.

Runs before the endpoint reads its parameters or body, so an oversized or unauthenticated request
costs no parsing. The key is looked up on every request (no cache), so a revoked key fails at once.
"""

from __future__ import annotations

from ninja.security import HttpBearer

from accounts.services import audit_record
from api.errors import ApiError
from api.keys import api_key_for_secret, api_key_touch
from api.limits import body_size_check, rate_limit_check
from api.models import ApiKey


class ApiKeyAuth(HttpBearer):
    openapi_description = "An API key of your business (Settings → API keys), as `Authorization: Bearer si_…`."

    def __call__(self, request):
        body_size_check(request)
        return super().__call__(request)

    def authenticate(self, request, token: str) -> ApiKey | None:
        key = api_key_for_secret(token or "")
        if key is None:
            return None
        rate_limit_check(key_id=key.pk)
        api_key_touch(key)
        audit_record(
            action="api.request", business=key.business, actor=key.actor, target=key,
            metadata={"method": request.method, "path": request.path[:300], "key": key.prefix},
        )
        request.api_key = key
        return key


def require_write(request) -> ApiKey:
    key: ApiKey = request.auth
    if key.scope != ApiKey.Scope.WRITE:
        raise ApiError(403, "insufficient_scope", "This key may only read; create a read and write key to change things.")
    return key
