"""Receiving what providers push (Twilio status callbacks, inbound SMS from Twilio and Amazon SNS), without a web
framework: WSGI applications for :class:`~smscore.service.SMSService`, ASGI ones for
:class:`~smscore.service.AsyncSMSService`.

:func:`callback_url` rebuilds the URL the provider called, which signatures are computed over: behind a proxy
or a load balancer the application sees another host, scheme or port, so a configured ``public_base_url``
(``https://sms.example.com``) replaces what the request says. :func:`status_callback_app` is a WSGI application
for one provider name::

    from wsgiref.simple_server import make_server
    import smscore
    from smscore.webhooks import status_callback_app

    service = smscore.build_service()           # with a twilio provider and public_base_url configured
    make_server("", 8000, status_callback_app(service, "default")).serve_forever()

:func:`inbound_app` does the same for the SMS a provider receives, and :func:`webhook_app` serves both for every
provider, at ``/status/<name>/`` and ``/inbound/<name>/``. Their ASGI twins, :func:`asgi_status_callback_app`,
:func:`asgi_inbound_app` and :func:`asgi_webhook_app`, take an asyncio service and answer the same::

    service = smscore.build_async_service()
    app = asgi_webhook_app(service)             # uvicorn module:app, or app.mount("/sms", ...) in FastAPI

All answer 200 when the report was applied (or names no message we know), 403 when the signature does not
verify, 413 for a body over 64 KiB, 400 for anything else wrong with the request, and 405 for a method other than
POST. Both kinds of application make every one of these decisions in :mod:`smscore.webhooks.decisions`;
:mod:`smscore.webhooks.wsgi` and :mod:`smscore.webhooks.asgi` only read requests and write answers. Django
projects use the views in ``adapters_django.urls`` instead.
"""

from __future__ import annotations

from smscore.webhooks.asgi import ASGIApp, asgi_inbound_app, asgi_status_callback_app, asgi_webhook_app
from smscore.webhooks.decisions import EMPTY_TWIML, MAX_CALLBACK_BODY, callback_url
from smscore.webhooks.wsgi import WSGIApp, inbound_app, status_callback_app, webhook_app

__all__ = [
    "EMPTY_TWIML",
    "MAX_CALLBACK_BODY",
    "ASGIApp",
    "WSGIApp",
    "asgi_inbound_app",
    "asgi_status_callback_app",
    "asgi_webhook_app",
    "callback_url",
    "inbound_app",
    "status_callback_app",
    "webhook_app",
]
