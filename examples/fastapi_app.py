"""Send SMS from a FastAPI application and receive their delivery reports (and the SMS people send back), on
smscore's asyncio service.

- ``POST /messages`` with ``{"recipient": "+420777123456", "content": "Your parcel is on its way"}`` sends
  (``await service.send(...)``) and answers the stored message as JSON;
- ``GET /messages/{id}`` reads it back: its state moves as delivery reports arrive;
- ``/sms`` is smscore's ASGI webhook application (:func:`smscore.webhooks.asgi_webhook_app`): Twilio posts status
  callbacks to ``/sms/status/<name>/`` and the SMS people send to ``/sms/inbound/<name>/``; each is verified
  (Twilio's signature over the public URL), applied once, and answered 200, 403, 400, 405 or 413.

The service is built in the lifespan from the configuration (``smscore.toml`` and ``SMSCORE_*`` variables, or the
mapping given to :func:`create_app`) and closed at shutdown. Run it with uvicorn::

    pip install 'smscore[asyncio,twilio]' fastapi uvicorn
    export SMSCORE_STORAGE=sqlalchemy SMSCORE_DATABASE_URL=sqlite:///sms.sqlite3
    export SMSCORE_PROVIDER=twilio
    export SMSCORE_PROVIDER_OPTIONS__ACCOUNT_SID=AC... SMSCORE_PROVIDER_OPTIONS__FROM_=+15005550006
    export SMSCORE_PROVIDER_OPTIONS__AUTH_TOKEN=...       # verifies the callbacks; only ever from the environment
    export SMSCORE_PUBLIC_BASE_URL=https://sms.example.com/sms
    uvicorn --app-dir examples fastapi_app:app --host 127.0.0.1 --port 8000

    curl -X POST http://127.0.0.1:8000/messages -H 'Content-Type: application/json' \\
         -d '{"recipient": "+420777123456", "content": "Your parcel is on its way"}'

``SMSCORE_PUBLIC_BASE_URL`` is the public URL of the ``/sms`` mount point: every message sent through Twilio
carries ``StatusCallback = https://sms.example.com/sms/status/default/``, and the signature is checked against
that URL whatever host, scheme or port the TLS proxy in front forwards with (it forwards the path unchanged). Set
``https://sms.example.com/sms/inbound/default/`` as the Twilio number's messaging webhook to receive SMS. Without a
Twilio account, ``SMSCORE_PROVIDER=dummy`` stores every message and sends nothing (there are no reports then).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, TypedDict

from fastapi import FastAPI, HTTPException, Request
from pydantic import BaseModel, Field

import smscore
from smscore.webhooks import ASGIApp, asgi_webhook_app


class State(TypedDict):
    """What the lifespan gives every request (``request.state``): the service and its webhook application."""

    sms: smscore.AsyncSMSService
    webhooks: ASGIApp


class SendRequest(BaseModel):
    """An SMS to send."""

    recipient: str = Field(examples=["+420777123456"])
    content: str = Field(examples=["Your parcel is on its way"])
    tag: str | None = None


class Message(BaseModel):
    """A stored message, as the API answers it."""

    id: int
    recipient: str
    content: str
    state: str
    provider: str | None
    provider_ref: str | None
    created_at: datetime
    sent_at: datetime | None
    error: str | None

    @classmethod
    def of(cls, message: smscore.SMSMessage) -> Message:
        return cls(
            id=message.id or 0,
            recipient=message.recipient,
            content=message.content,
            state=message.state.name,
            provider=message.provider,
            provider_ref=message.provider_ref,
            created_at=message.created_at,
            sent_at=message.sent_at,
            error=message.error,
        )


def create_app(config: Mapping[str, Any] | None = None) -> FastAPI:
    """The application; its service is built from ``config`` (default: ``smscore.toml`` and ``SMSCORE_*``)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[State]:
        # Closed (providers' clients, storage) when the server shuts down.
        async with smscore.build_async_service(config) as service:
            yield {"sms": service, "webhooks": asgi_webhook_app(service)}

    app = FastAPI(title="SMS", lifespan=lifespan)

    async def webhooks(scope: Any, receive: Any, send: Any) -> None:
        """smscore's webhook application, built with the service of this run."""
        await scope["state"]["webhooks"](scope, receive, send)

    app.mount("/sms", webhooks)

    @app.post("/messages", status_code=201)
    async def send_sms(body: SendRequest, request: Request) -> Message:
        """Send an SMS; the stored message (SENDING or SENT once the provider took it, WAITING in outbox mode)."""
        service: smscore.AsyncSMSService = request.state.sms
        try:
            message = await service.send(body.recipient, body.content, tag=body.tag)
        except smscore.InvalidMessageError as exc:
            raise HTTPException(422, str(exc)) from exc
        except smscore.RecipientRefusedError as exc:  # opted out, not allowed, rate limited
            raise HTTPException(409, str(exc)) from exc
        return Message.of(message)

    @app.get("/messages/{message_id}")
    async def get_message(message_id: int, request: Request) -> Message:
        """A stored message, read through the service's storage runner (``service.call``)."""
        service: smscore.AsyncSMSService = request.state.sms
        try:
            return Message.of(await service.call(service.messages.get, message_id))
        except smscore.MessageNotFoundError as exc:
            raise HTTPException(404, f"no message {message_id}") from exc

    return app


#: What ``uvicorn fastapi_app:app`` serves.
app = create_app()
