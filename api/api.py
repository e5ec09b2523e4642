"""The REST API: one NinjaAPI at /api/v1/ (schema at /api/v1/openapi.json, pages at /api/docs), whose
every error, whoever raises it, answers `{"error": {"code", "message"}}` (`api.errors`)."""

from __future__ import annotations

import json
import logging

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from api.auth import ApiKeyAuth
from api.endpoints import router
from api.errors import ApiError, error_response

logger = logging.getLogger(__name__)

api = NinjaAPI(
    title="Social Inbox API",
    version="1",
    description="Read and answer your business's Messenger and Instagram conversations. See docs/api.md.",
    urls_namespace="api-v1",
    auth=ApiKeyAuth(),
    docs_url=None,  # the docs page is /api/docs (api/urls.py), outside the versioned prefix
    openapi_url="/openapi.json",
)
api.add_router("/", router)


@api.exception_handler(ApiError)
def _api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    return error_response(exc.status, exc.code, exc.message, headers=exc.headers)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error_response(
        401, "unauthenticated", "Send a valid, unrevoked API key as `Authorization: Bearer <key>`.",
        headers={"WWW-Authenticate": 'Bearer realm="api"'},
    )


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    problems = []
    for error in exc.errors[:5]:
        where = ".".join(str(part) for part in error.get("loc", ()) if part not in ("body", "payload"))
        problems.append(f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg", "invalid")))
    return error_response(422, "invalid_request", "; ".join(problems) or "The request is not valid.")


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(404, "not_found", "Not found.")


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return error_response(exc.status_code, "error", str(exc))


@api.exception_handler(Exception)
def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("API request failed: %s %s", request.method, request.path)
    return error_response(500, "server_error", "Something went wrong on our side; try again later.")


def docs(request: HttpRequest) -> HttpResponse:
    """Swagger UI, from our own static files (ninja's, see STATICFILES_DIRS), reading /api/v1/openapi.json.

    Rendered here rather than by ninja's ``Swagger``, which needs "ninja" in INSTALLED_APPS for its
    template: listing it made every process (web workers, the ASGI workers, Celery) import ninja and
    pydantic at start, 12 MiB each. The API keys travel in a header, so the page needs no CSRF token.
    """
    swagger = {"layout": "BaseLayout", "deepLinking": True, "url": reverse(f"{api.urls_namespace}:openapi-json")}
    # The JSON goes inside a <script> element: "</" must not close it early.
    swagger_settings = json.dumps(swagger).replace("</", "<\\/")
    return render(request, "api/docs.html", {"title": api.title, "swagger_settings": swagger_settings})


def not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Any other path under /api/v1/: the API's 404, not the site's HTML page."""
    return error_response(404, "not_found", "No such endpoint; see /api/docs.")
