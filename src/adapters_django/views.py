"""The webhook views: providers push delivery reports (:func:`status_callback`, Twilio) and the SMS they receive
(:func:`inbound`, Twilio and Amazon SNS, at ``<PYMESS_SMS_PUBLIC_BASE_URL>/inbound/<name>/``) here.

Include the URLs where the public base URL points::

    # urls.py
    urlpatterns = [..., path("sms/", include("adapters_django.urls"))]

    # settings.py
    PYMESS_SMS_PUBLIC_BASE_URL = "https://example.com/sms"

Backends that take status callbacks are then told, on every send, to post them to
``https://example.com/sms/status/<name>/`` (``<name>`` is the backend's name: ``default`` for
``PYMESS_SMS_SENDER_BACKEND``, the key in ``PYMESS_SMS_BACKENDS`` otherwise), and :func:`status_callback` applies
them: it verifies the provider's signature, finds the message by the provider's reference and moves it through the
core's transition table, so replayed and out-of-order reports are harmless.

The signature covers the URL the provider called. With ``PYMESS_SMS_PUBLIC_BASE_URL`` set, that URL is rebuilt as
``<PYMESS_SMS_PUBLIC_BASE_URL>/status/<name>/`` (plus the query string), whatever host, scheme, port or path prefix
a proxy or load balancer forwards the request with. Without it, the URL is the one the request arrived at
(``request.build_absolute_uri()``): behind a proxy that terminates TLS, set ``SECURE_PROXY_SSL_HEADER`` (and
``USE_X_FORWARDED_HOST`` if it changes the host), or signatures will not verify.

Answers:

======  =========================================================================================
status  when
======  =========================================================================================
200     the report was applied, was a duplicate or came too late to change anything, or names a
        message we do not know (the provider has nothing to retry)
400     not a status report, a backend name that takes no callbacks, a bad ``Content-Length``
403     the signature is missing or does not verify (nothing is changed)
405     a method other than POST
413     a body larger than 64 KiB (:data:`smscore.webhooks.MAX_CALLBACK_BODY`)
======  =========================================================================================

The view is exempt from CSRF protection: providers cannot send a CSRF token; the signature is the protection.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.encoding import escape_uri_path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from adapters_django.wiring import get_service
from smscore import SMSService
from smscore.errors import CallbackError, InvalidSignatureError
from smscore.inbound import WebhookRequest
from smscore.webhooks import EMPTY_TWIML, MAX_CALLBACK_BODY, callback_url

__all__ = ["called_url", "inbound", "status_callback"]

log = logging.getLogger("adapters_django.views")


def called_url(request: HttpRequest, provider: str, public_base_url: str | None, route: str = "status") -> str:
    """The URL the provider called, which its signature covers (see the module docstring); ``route`` is
    ``"status"`` or ``"inbound"``."""
    if not public_base_url:
        return request.build_absolute_uri()
    return callback_url(
        scheme=request.scheme or "http",
        host=request.META.get("HTTP_HOST", ""),
        # The path below the include: the one status_callback_url gave the provider, with the same escaping.
        path=escape_uri_path(f"/{route}/{provider}/"),
        query=request.META.get("QUERY_STRING", ""),
        public_base_url=public_base_url,
    )


def _plain(status: int, text: str = "") -> HttpResponse:
    return HttpResponse(f"{text}\n" if text else "", status=status, content_type="text/plain; charset=utf-8")


def _length_problem(request: HttpRequest) -> HttpResponse | None:
    """The answer to a request whose body is refused unread (a bad or too large ``Content-Length``), or None."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return _plain(400, "bad Content-Length")
    if length < 0:
        return _plain(400, "bad Content-Length")
    return _plain(413, "body too large") if length > MAX_CALLBACK_BODY else None


def _webhook(
    request: HttpRequest, provider: str, what: str, handle: Callable[[SMSService], object], ok: HttpResponse
) -> HttpResponse:
    """Refuse a body too large unread, else ``handle`` the request with the service and answer ``ok``, 403 for a
    signature that does not verify, 400 for a request that cannot be used."""
    problem = _length_problem(request)
    if problem is not None:
        return problem
    try:
        handle(get_service())
    except InvalidSignatureError:
        # The signature and the token stay out of the log.
        log.warning("%s for SMS backend %r refused: the signature does not verify", what, provider)
        return _plain(403, "invalid signature")
    except CallbackError as exc:
        log.warning("%s for SMS backend %r refused: %s", what, provider, exc)
        return _plain(400, str(exc))
    return ok


@csrf_exempt
@require_POST
def status_callback(request: HttpRequest, provider: str) -> HttpResponse:
    """Apply a status report that the backend named ``provider`` posted (see the module docstring)."""

    def handle(service: SMSService) -> None:
        # Every value of every field: a repeated field is part of what the provider signed.
        params: dict[str, str | list[str]] = {
            name: values[0] if len(values) == 1 else values for name, values in request.POST.lists()
        }
        url = called_url(request, provider, service.config.public_base_url)
        service.handle_status_callback(provider, url, params, dict(request.headers))

    return _webhook(request, provider, "status callback", handle, _plain(200))


@csrf_exempt
@require_POST
def inbound(request: HttpRequest, provider: str) -> HttpResponse:
    """Receive an SMS that the backend named ``provider`` pushes (Twilio's messaging webhook, an Amazon SNS
    subscription): verified, stored once, keywords acted on, ``sms_received`` sent. Answers as
    :func:`status_callback` does, a 200 with an empty TwiML document."""

    def handle(service: SMSService) -> None:
        url = called_url(request, provider, service.config.public_base_url, "inbound")
        service.handle_inbound(provider, WebhookRequest(url, request.body, dict(request.headers)))

    return _webhook(request, provider, "inbound SMS", handle, HttpResponse(EMPTY_TWIML, content_type="text/xml"))
