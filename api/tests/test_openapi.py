"""The OpenAPI schema loads, is valid OpenAPI 3, and documents every endpoint; the docs page loads it."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

EXPECTED = {
    "/api/v1/accounts": {"get"},
    "/api/v1/accounts/{account_id}": {"get"},
    "/api/v1/conversations": {"get"},
    "/api/v1/conversations/{conversation_id}": {"get"},
    "/api/v1/conversations/{conversation_id}/messages": {"get", "post"},
    "/api/v1/conversations/{conversation_id}/assign": {"post"},
    "/api/v1/conversations/{conversation_id}/status": {"post"},
    "/api/v1/conversations/{conversation_id}/labels": {"post"},
    "/api/v1/conversations/{conversation_id}/labels/{label}": {"delete"},
    "/api/v1/conversations/{conversation_id}/read": {"post"},
}


def test_schema_loads_without_a_key_and_lists_every_endpoint(client):
    answer = client.get("/api/v1/openapi.json")
    assert answer.status_code == 200
    schema = answer.json()
    assert schema["openapi"].startswith("3.")
    assert {path: set(ops) for path, ops in schema["paths"].items()} == EXPECTED
    # Every operation needs the bearer key, and documents the error shape.
    assert schema["components"]["securitySchemes"]["ApiKeyAuth"]["scheme"] == "bearer"
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert operation["security"] == [{"ApiKeyAuth": []}], (method, path)
            assert "401" in operation["responses"], (method, path)
            if "{" in path:
                assert "404" in operation["responses"], (method, path)
    reply = schema["paths"]["/api/v1/conversations/{conversation_id}/messages"]["post"]
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in reply["parameters"])


def test_schema_is_valid_openapi(client):
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(client.get("/api/v1/openapi.json").json())


def test_schema_is_structurally_sound(client):
    """Without a validator installed: every $ref resolves and every operation has responses."""
    schema = client.get("/api/v1/openapi.json").json()
    components = schema["components"]["schemas"]

    def refs(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref":
                    yield value
                else:
                    yield from refs(value)
        elif isinstance(node, list):
            for item in node:
                yield from refs(item)

    for ref in refs(schema):
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in components, ref
    for operations in schema["paths"].values():
        for operation in operations.values():
            assert operation["responses"] and operation["operationId"]


def test_docs_page_is_served_from_our_own_static_files(client):
    answer = client.get("/api/docs")
    assert answer.status_code == 200
    page = answer.content.decode()
    assert "/api/v1/openapi.json" in page
    assert "cdn" not in page.lower()  # the strict CSP allows scripts from ourselves only


def test_every_file_the_docs_page_loads_is_a_static_file_of_ours(client):
    """collectstatic gathers them (ninja is not an installed app: STATICFILES_DIRS lists its files)."""
    import re

    from django.contrib.staticfiles import finders

    page = client.get("/api/docs").content.decode()
    loaded = re.findall(r'(?:src|href)="/static/([^"]+)"', page)
    assert {"ninja/swagger-ui-bundle.js", "ninja/swagger-ui-init.js", "ninja/swagger-ui.css"} <= set(loaded)
    assert all(finders.find(path) for path in loaded), loaded

