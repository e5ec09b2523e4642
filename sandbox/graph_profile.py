"""The Messenger Profile API as Meta answers it (docs/messenger-platform.md, "Messenger profile").

``GET /{page-id}/messenger_profile?fields=…`` → ``{"data": [{<set properties>}]}`` (``{"data": []}``
when none is set), ``POST`` (a JSON object of properties) → ``{"result": "success"}``, ``DELETE``
({"fields": [...]}) → ``{"result": "success"}``. Checked as Meta does: greeting texts at most 160
characters with a ``default`` locale, at most 4 ice breakers (new format, ``default`` locale), menu
buttons ``postback`` (title, payload) or ``web_url`` (title, url), and a Get Started button before
a persistent menu; anything else is a ``(#100)`` error.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from sandbox.graph import Auth, GraphRequest, MetaError, _page_for_page_token
from sandbox.models import MessengerProfile

PROPERTIES = ("get_started", "greeting", "ice_breakers", "persistent_menu", "whitelisted_domains")
GREETING_MAX = 160
ICE_BREAKERS_MAX = 4
QUESTION_MAX = 80
MENU_MAX = 20
TITLE_MAX = 30
PAYLOAD_MAX = 1000


def _error(message: str) -> MetaError:
    return MetaError(f"(#100) {message}", code=100)


def handle(request: GraphRequest, auth: Auth, object_id: str) -> dict:
    page = _page_for_page_token(auth, object_id)
    profile, _ = MessengerProfile.objects.get_or_create(page=page)
    if request.method == "GET":
        raw = request.params.get("fields") or ""
        fields = [f.strip() for f in raw.split(",") if f.strip()]
        if not fields:
            raise _error("The parameter fields is required")
        unknown = [f for f in fields if f not in PROPERTIES]
        if unknown:
            raise _error(f"Param fields[0] must be one of {{{', '.join(PROPERTIES)}}} - got \"{unknown[0]}\".")
        found = {f: profile.properties[f] for f in fields if f in profile.properties}
        return {"data": [found] if found else []}
    if request.method == "DELETE":
        fields = request.body.get("fields") or request.params.get("fields") or []
        if isinstance(fields, str):
            fields = [f.strip() for f in fields.split(",") if f.strip()]
        if not isinstance(fields, list) or not fields:
            raise _error("The parameter fields is required")
        if any(f not in PROPERTIES for f in fields):
            raise _error(f"Param fields must be a subset of {{{', '.join(PROPERTIES)}}}")
        profile.properties = {k: v for k, v in profile.properties.items() if k not in fields}
        profile.save(update_fields=["properties", "updated_at"])
        return {"result": "success"}
    properties = {k: v for k, v in request.body.items() if k in PROPERTIES}
    if not properties:
        raise _error(f"Requires one of the params: {','.join(PROPERTIES)}")
    merged = {**profile.properties, **properties}
    for name, value in properties.items():
        _CHECKS.get(name, _check_any)(value)
    if "persistent_menu" in properties and "get_started" not in merged:
        raise _error("You must set a Get Started button if you also wish to use persistent menu.")
    profile.properties = merged
    profile.save(update_fields=["properties", "updated_at"])
    return {"result": "success"}


def _check_any(value: Any) -> None:
    if value is None:
        raise _error("Param must be non-empty.")


def _check_get_started(value: Any) -> None:
    if not isinstance(value, dict) or not str(value.get("payload") or ""):
        raise _error("param get_started[payload] must be a non-empty UTF-8 encoded string")


def _localized(name: str, value: Any) -> list[dict]:
    if not isinstance(value, list) or not value or not all(isinstance(item, dict) for item in value):
        raise _error(f"param {name} must be a non-empty array of objects")
    if not any(item.get("locale") == "default" for item in value):
        raise _error(f"param {name} must include the default locale")
    return value


def _check_greeting(value: Any) -> None:
    for index, item in enumerate(_localized("greeting", value)):
        text = item.get("text")
        if not isinstance(text, str) or not text:
            raise _error(f"param greeting[{index}][text] must be a non-empty UTF-8 encoded string")
        if len(text) > GREETING_MAX:
            raise _error(f"param greeting[{index}][text] must be at most {GREETING_MAX} characters long")


def _check_ice_breakers(value: Any) -> None:
    for index, item in enumerate(_localized("ice_breakers", value)):
        ctas = item.get("call_to_actions")
        if not isinstance(ctas, list) or not ctas:
            raise _error(f"param ice_breakers[{index}][call_to_actions] must be a non-empty array")
        if len(ctas) > ICE_BREAKERS_MAX:
            raise _error(f"param ice_breakers[{index}][call_to_actions] must have at most {ICE_BREAKERS_MAX} items")
        for position, cta in enumerate(ctas):
            where = f"ice_breakers[{index}][call_to_actions][{position}]"
            question, payload = (cta or {}).get("question"), (cta or {}).get("payload")
            if not isinstance(question, str) or not question or len(question) > QUESTION_MAX:
                raise _error(f"param {where}[question] must be a non-empty string of at most {QUESTION_MAX} characters")
            if not isinstance(payload, str) or not payload or len(payload) > PAYLOAD_MAX:
                raise _error(f"param {where}[payload] must be a non-empty string of at most {PAYLOAD_MAX} characters")


def _check_menu(value: Any) -> None:
    for index, item in enumerate(_localized("persistent_menu", value)):
        if not isinstance(item.get("composer_input_disabled", False), bool):
            raise _error(f"param persistent_menu[{index}][composer_input_disabled] must be a boolean")
        ctas = item.get("call_to_actions")
        if not isinstance(ctas, list) or not ctas:
            if item.get("composer_input_disabled"):
                continue
            raise _error(f"param persistent_menu[{index}][call_to_actions] must be a non-empty array")
        if len(ctas) > MENU_MAX:
            raise _error(f"param persistent_menu[{index}][call_to_actions] must have at most {MENU_MAX} items")
        for position, cta in enumerate(ctas):
            _check_button(f"persistent_menu[{index}][call_to_actions][{position}]", cta)


def _check_button(where: str, cta: Any) -> None:
    if not isinstance(cta, dict):
        raise _error(f"param {where} must be an object")
    title = cta.get("title")
    if not isinstance(title, str) or not title or len(title) > TITLE_MAX:
        raise _error(f"param {where}[title] must be a non-empty string of at most {TITLE_MAX} characters")
    kind = cta.get("type")
    if kind == "postback":
        payload = cta.get("payload")
        if not isinstance(payload, str) or not payload or len(payload) > PAYLOAD_MAX:
            raise _error(f"param {where}[payload] must be a non-empty string of at most {PAYLOAD_MAX} characters")
    elif kind == "web_url":
        url = cta.get("url")
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise _error(f"param {where}[url] must be a valid URL")
    else:
        raise _error(f"param {where}[type] must be one of {{postback, web_url, nested}}")


_CHECKS = {
    "get_started": _check_get_started,
    "greeting": _check_greeting,
    "ice_breakers": _check_ice_breakers,
    "persistent_menu": _check_menu,
}
