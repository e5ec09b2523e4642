"""HTTP side of the sandbox: Meta's Login dialog, the Graph API, a CDN, and a control API for tests.

Installed only when settings.SANDBOX is true (never in production).
"""

from __future__ import annotations

import base64
import json
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.http import Http404, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from sandbox import graph
from sandbox.customers import customer_name
from sandbox.images import picture_png
from sandbox.models import Config, Customer, FacebookUser, Fault, GraphCall, Page, SentMessage, Subscription, Token

if TYPE_CHECKING:
    from django.http import HttpRequest


def _base_url(request: HttpRequest) -> str:
    return f"{request.scheme}://{request.get_host()}"


def index(request: HttpRequest) -> HttpResponse:
    return render(request, "sandbox/index.html", {
        "users": FacebookUser.objects.prefetch_related("roles__page"),
        "pages": Page.objects.prefetch_related("customers").select_related("subscription"),
        "sent": SentMessage.objects.select_related("page").order_by("-id")[:20],
    })


# LOGIN DIALOG
# ------------------------------------------------------------------------------
@require_http_methods(["GET", "POST"])
def dialog(request: HttpRequest) -> HttpResponse:
    """Meta's OAuth dialog: pick a Facebook user, the Pages and permissions to grant, then go back with a code."""
    params = request.POST if request.method == "POST" else request.GET
    redirect_uri = params.get("redirect_uri", "")
    state = params.get("state", "")
    client_id = params.get("client_id", "")
    requested = [s for s in params.get("scope", "").split(",") if s]
    problem = ""
    if client_id != str(settings.FACEBOOK_APP_ID):
        problem = "Invalid App ID: the app that sent you here is not the Social Inbox app."
    elif urlsplit(redirect_uri).scheme not in ("http", "https") or not urlsplit(redirect_uri).netloc:
        problem = "URL blocked: this redirect_uri is not a valid URL."
    if problem:
        return render(request, "sandbox/dialog_error.html", {"problem": problem}, status=400)

    def back(**query: str) -> HttpResponseRedirect:
        query = {**query, "state": state} if state else query
        sep = "&" if "?" in redirect_uri else "?"
        return HttpResponseRedirect(f"{redirect_uri}{sep}{urlencode(query)}")

    if request.method == "POST":
        if "cancel" in request.POST:
            return back(error="access_denied", error_code="200", error_description="Permissions error",
                        error_reason="user_denied")
        user = FacebookUser.objects.filter(fb_id=request.POST.get("user", "")).first()
        if user is not None:
            allowed_pages = set(user.roles.values_list("page__page_id", flat=True))
            page_ids = [p for p in request.POST.getlist("pages") if p in allowed_pages]
            scopes = [s for s in request.POST.getlist("scopes") if s in requested or not requested]
            code = graph.dialog_code_create(user=user, redirect_uri=redirect_uri, scopes=scopes, page_ids=page_ids)
            return back(code=code.code)

    user = FacebookUser.objects.filter(fb_id=params.get("user", "")).first()
    response = render(request, "sandbox/dialog.html", {
        "users": FacebookUser.objects.all(),
        "chosen": user,
        "roles": user.roles.select_related("page").order_by("page__name") if user else [],
        "scopes": requested,
        "hidden": {k: params.get(k, "") for k in ("client_id", "redirect_uri", "state", "scope", "response_type",
                                                  "auth_type")},
    })
    # The dialog's form goes back to the product by a redirect: a browser holds that redirect to the
    # page's form-action, so the product's origin is allowed (another port beside the production stack).
    target = urlsplit(redirect_uri)
    response._csp_update = {"form-action": [f"{target.scheme}://{target.netloc}"]}  # type: ignore[attr-defined]
    return response


# GRAPH API
# ------------------------------------------------------------------------------
@csrf_exempt
def graph_api(request: HttpRequest, version: str, path: str) -> JsonResponse:
    params: dict[str, str] = dict(request.GET.items())
    body: dict[str, Any] = {}
    content_type = request.content_type or ""
    files: dict[str, Any] = {}
    if request.method == "POST" and content_type == "multipart/form-data":
        # Read as a stream (never request.body, whose size cap is far below an upload's).
        for key, value in request.POST.items():
            params.setdefault(key, value)
            body[key] = _maybe_json(value)
        files = dict(request.FILES.items())
    elif request.method in ("POST", "DELETE") and request.body:
        if content_type == "application/json":
            try:
                loaded = json.loads(request.body)
            except ValueError:
                return JsonResponse(graph.MetaError("(#100) Invalid JSON in the request body", code=100).body(),
                                    status=400)
            body = loaded if isinstance(loaded, dict) else {}
        elif request.method == "POST":
            for key, value in request.POST.items():
                params.setdefault(key, value)
                body[key] = _maybe_json(value)
    token = params.pop("access_token", "") or str(body.pop("access_token", "") or "")
    header = request.headers.get("Authorization", "")
    if header.split(" ", 1)[0].lower() in ("bearer", "oauth") and " " in header:
        token = header.split(" ", 1)[1].strip()
    status, payload = graph.handle(graph.GraphRequest(
        method=request.method, path=path.strip("/"), params=params, body=body, token=token,
        base_url=_base_url(request), files=files,
    ))
    return JsonResponse(payload, status=status, json_dumps_params={"ensure_ascii": True})


def _maybe_json(value: str) -> Any:
    if value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


# FAKE CDN
# ------------------------------------------------------------------------------
_MP3 = base64.b64decode("//uQxAAAAAAAAAAAAAAAAAAAAAAASW5mbwAAAA8AAAACAAACcQCAgICAgICAgICAgICAgICAgICAgICAgICAgICA")
_PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj "
        b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 100]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
_MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 32
CONTENT_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif",
                 "mp3": "audio/mpeg", "mp4": "video/mp4", "pdf": "application/pdf"}


def cdn(request: HttpRequest, name: str) -> HttpResponse:
    """Media the simulated attachments and profile pictures point at.

    `?oe=<hex unix time>` in the past answers 403 like an expired Meta CDN URL; `?bytes=N` serves N bytes
    (to test size limits); `?status=N` answers that status.
    """
    if request.GET.get("status", "").isdigit():
        return HttpResponse(b"sandbox CDN error", status=int(request.GET["status"]), content_type="text/plain")
    expiry = request.GET.get("oe", "")
    if expiry:
        try:
            expired = int(expiry, 16) < time.time()
        except ValueError:
            expired = True
        if expired:
            return HttpResponse(b"URL signature expired", status=403, content_type="text/plain")
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    content_type = CONTENT_TYPES.get(extension, "application/octet-stream")
    if request.GET.get("bytes", "").isdigit():
        content = b"\x00" * min(int(request.GET["bytes"]), 64 * 1024 * 1024)
    elif content_type.startswith("image/"):
        content = picture_png(name)
        content_type = "image/png"
    elif extension == "mp3":
        content = _MP3
    elif extension == "pdf":
        content = _PDF
    elif extension == "mp4":
        content = _MP4
    else:
        content = f"sandbox file {name}\n".encode()
    response = HttpResponse(content, content_type=content_type)
    response["Cache-Control"] = "private, max-age=3600"
    return response


# CONTROL API (tests and demos)
# ------------------------------------------------------------------------------
def _json(request: HttpRequest) -> dict:
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _tokens_for(data: dict):
    tokens = Token.objects.all()
    if data.get("page_id"):
        page = Page.objects.filter(page_id=str(data["page_id"])).first()
        if page is None:
            raise Http404("No such sandbox page.")
        tokens = tokens.filter(page=page)
    if data.get("user_id"):
        tokens = tokens.filter(user__fb_id=str(data["user_id"]))
    if not data.get("page_id") and not data.get("user_id") and not data.get("all"):
        raise Http404("Say which tokens: page_id, user_id or all.")
    return tokens


@csrf_exempt
@require_http_methods(["POST"])
def control_tokens(request: HttpRequest, action: str) -> JsonResponse:
    """POST /sandbox/control/tokens/invalidate|expire|revoke {page_id | user_id, subcode?, scope?}."""
    data = _json(request)
    tokens = _tokens_for(data)
    if action == "invalidate":
        count = tokens.update(invalid_subcode=int(data.get("subcode") or 460))
    elif action == "expire":
        count = tokens.update(expires_at=timezone.now() - timedelta(seconds=1))
    elif action == "revoke":
        scope = str(data.get("scope") or "")
        count = 0
        for token in tokens:
            if scope in token.scopes:
                token.scopes = [s for s in token.scopes if s != scope]
                token.save(update_fields=["scopes"])
                count += 1
    elif action == "restore":
        count = tokens.update(invalid_subcode=None)
    else:
        raise Http404("Unknown token action.")
    return JsonResponse({"tokens": count})


@csrf_exempt
@require_http_methods(["GET", "POST", "DELETE"])
def control_faults(request: HttpRequest) -> JsonResponse:
    """POST {path, method?, count?, http_status?, code?, subcode?, message?, delay?, then_succeed?}; DELETE clears."""
    if request.method == "DELETE":
        Fault.objects.all().delete()
    elif request.method == "POST":
        data = _json(request)
        path = "/" + str(data.get("path") or "").strip("/")
        if path == "/":
            return JsonResponse({"error": "path is required"}, status=400)
        Fault.objects.create(
            path=path, method=str(data.get("method") or "").upper(), remaining=int(data.get("count") or 1),
            http_status=int(data.get("http_status") or (400 if data.get("code") not in (None, 1, 2) else 500)),
            code=data.get("code"), subcode=data.get("subcode"), message=str(data.get("message") or ""),
            delay=float(data.get("delay") or 0), then_succeed=bool(data.get("then_succeed")),
        )
    faults = list(Fault.objects.filter(remaining__gt=0).values("path", "method", "remaining", "http_status", "code",
                                                               "subcode", "delay", "then_succeed"))
    return JsonResponse({"faults": faults})


def control_sent(request: HttpRequest) -> JsonResponse:
    """GET /sandbox/control/sent.json[?page_id=&after_id=]: the Send API calls the sandbox accepted."""
    sent = SentMessage.objects.select_related("page").order_by("id")
    if request.GET.get("page_id"):
        sent = sent.filter(page__page_id=request.GET["page_id"])
    if request.GET.get("after_id", "").isdigit():
        sent = sent.filter(id__gt=int(request.GET["after_id"]))
    return JsonResponse({"data": [
        {"id": s.id, "page_id": s.page.page_id, "recipient_id": s.recipient_id, "message_id": s.message_id,
         "body": s.body, "created_time": s.created_at.isoformat()}
        for s in sent[:500]
    ]})


def control_calls(request: HttpRequest) -> JsonResponse:
    """GET /sandbox/control/calls.json[?path=&method=]: every Graph call answered (never a token)."""
    calls = GraphCall.objects.order_by("id")
    if request.GET.get("path"):
        calls = calls.filter(path=request.GET["path"])
    if request.GET.get("method"):
        calls = calls.filter(method=request.GET["method"].upper())
    return JsonResponse({"data": list(calls.values("id", "method", "path", "status", "error_code", "had_token",
                                                   "had_proof")[:1000])})


@csrf_exempt
@require_http_methods(["GET", "POST"])
def control_config(request: HttpRequest) -> JsonResponse:
    config = Config.get()
    if request.method == "POST":
        data = _json(request)
        for name in ("webhook_url", "send_receipts", "echo_delay", "read_delay", "human_agent_approved",
                     "require_appsecret_proof"):
            if name in data:
                setattr(config, name, data[name])
        config.save()
    return JsonResponse({name: getattr(config, name) for name in (
        "webhook_url", "send_receipts", "echo_delay", "read_delay", "human_agent_approved", "require_appsecret_proof")})


@csrf_exempt
@require_http_methods(["POST"])
def control_unsubscribe(request: HttpRequest) -> JsonResponse:
    """Meta dropped the app from a Page (as after an hour of failing webhooks)."""
    deleted, _ = Subscription.objects.filter(page__page_id=str(_json(request).get("page_id") or "")).delete()
    return JsonResponse({"unsubscribed": bool(deleted)})


@csrf_exempt
@require_http_methods(["POST"])
def control_customers(request: HttpRequest) -> JsonResponse:
    """Create or update a customer: {page_id, psid, first_name?, last_name?, username?, platform?,
    last_message_minutes_ago? (null: never wrote), blocked?}."""
    data = _json(request)
    page = Page.objects.filter(page_id=str(data.get("page_id") or "")).first()
    if page is None or not data.get("psid"):
        return JsonResponse({"error": "page_id of a sandbox page and psid are required"}, status=400)
    defaults: dict[str, Any] = {"page": page}
    for name in ("first_name", "last_name", "username", "platform", "blocked"):
        if name in data:
            defaults[name] = data[name]
    if "last_message_minutes_ago" in data:
        minutes = data["last_message_minutes_ago"]
        defaults["last_message_at"] = None if minutes is None else timezone.now() - timedelta(minutes=float(minutes))
    customer, created = Customer.objects.update_or_create(psid=str(data["psid"]), defaults=defaults)
    if created and not customer.name:
        # A customer of its own name, as the simulator's (sandbox.customers), not a blank profile.
        taken = {c.name for c in Customer.objects.filter(page=page).exclude(pk=customer.pk)}
        customer.first_name, customer.last_name = customer_name(customer.psid, taken=taken)
        customer.save(update_fields=["first_name", "last_name"])
    return JsonResponse({"psid": customer.psid, "created": created})


@csrf_exempt
@require_http_methods(["POST"])
def control_reset(request: HttpRequest) -> JsonResponse:
    """Forget faults, sent messages and the call log; back to the default configuration."""
    Fault.objects.all().delete()
    SentMessage.objects.all().delete()
    GraphCall.objects.all().delete()
    Config.objects.all().delete()
    Token.objects.filter(invalid_subcode__isnull=False).update(invalid_subcode=None)
    return JsonResponse({"reset": True})


@csrf_exempt
@require_http_methods(["POST"])
def control_message(request: HttpRequest) -> JsonResponse:
    """A customer writes to a page, as Meta delivers it: {page_id (a Page or its Instagram account), text?}.

    The page's first customer on that platform writes (one is made when it has none); the signed webhook
    goes where the sandbox sends every webhook. Answers the receiver's status (the product's channel
    health "send a test message" check uses it).
    """
    from sandbox import graph_handover, payloads
    from sandbox.customers import default_psid

    data = _json(request)
    account_id = str(data.get("page_id") or "")
    page, platform = graph.page_and_platform(account_id) if account_id else (None, "")
    if page is None:
        return JsonResponse({"error": "page_id of a sandbox page or Instagram account is required"}, status=400)
    instagram = platform == Customer.Platform.INSTAGRAM
    # The page's first customer on that platform writes; a page without one gets the simulator's own.
    first = page.customers.filter(platform=platform).order_by("pk").values_list("psid", flat=True).first()
    psid = first or default_psid(account_id, instagram=instagram)
    graph.customer_message_received(psid=psid, page_id=account_id)  # the window opens, a new customer is named
    text = str(data.get("text") or "A test message from the sandbox")[:2000]
    body = payloads.encode(payloads.envelope(
        object_type="instagram" if instagram else "page",
        entries=[payloads.entry(account_id=account_id, field=graph_handover.webhook_field(account_id, psid), events=[
            payloads.text_message(page_id=account_id, psid=psid, text=text,
                                  quick_reply=str(data["quick_reply"])[:1000] if data.get("quick_reply") else None),
        ])],
    ))
    url = Config.get().webhook_url or settings.SANDBOX_WEBHOOK_URL
    try:
        status = payloads.post_webhook(url, body, settings.FACEBOOK_APP_SECRET)
    except Exception as exc:  # the receiver is down or unreachable: say so to the caller
        return JsonResponse({"error": f"the webhook could not be delivered ({type(exc).__name__})"}, status=502)
    return JsonResponse({"status": status, "psid": psid}, status=200 if status == 200 else 502)
