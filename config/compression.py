"""Compressed pages: gzip for HTML (and other text) answers of the Django views.

Why Django and not nginx: a page holds secrets next to text an attacker may choose (a search term is
echoed in the page), the condition for BREACH. Django's CSRF token is masked afresh for every
response, so compression cannot leak it, and Django's GZipMiddleware pads each answer with up to 100
random bytes in the gzip header ("Heal the Breach"), which makes response lengths too noisy to
recover anything else byte by byte. nginx's gzip has neither, so the shipped nginx compresses only
the static files (deploy/nginx/), which hold no secrets, and leaves pages to this middleware.

Streaming answers are left alone: those are stored attachments (images, video, documents, mostly
compressed already), where gzip would cost CPU per download and drop Content-Length.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.middleware.gzip import GZipMiddleware

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponseBase

COMPRESSIBLE_TYPES = ("text/", "application/json", "application/javascript", "image/svg+xml")


class PageGZipMiddleware(GZipMiddleware):
    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if response.streaming or not response.get("Content-Type", "").startswith(COMPRESSIBLE_TYPES):
            return response
        return super().process_response(request, response)
