"""What only the ASGI webhook applications have: a body read event by event and cut off at the limit, a client
that goes away, the ``lifespan`` and ``websocket`` scopes, ``root_path``. What they share with the WSGI ones is
held to the same assertions in test_webhooks.py, test_inbound_http.py and test_wsgi_example.py."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from smscore import AsyncSMSService, SMSConfig, SMSState
from smscore.testing import FixedClock, InMemoryMessageRepository, InMemoryTemplateRepository, ScriptedProvider
from smscore.webhooks import MAX_CALLBACK_BODY, asgi_status_callback_app, asgi_webhook_app
from tests.asgi_client import exchange, lifespan
from tests.core.test_webhooks import SigningProvider, sign

pytestmark = pytest.mark.anyio

PUBLIC_BASE = "https://sms.example.com/hooks"
FORM = ("Content-Type", "application/x-www-form-urlencoded")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def service_with(*, public_base_url: str | None = PUBLIC_BASE, closed: list[bool] | None = None) -> AsyncSMSService:
    async def on_close() -> None:
        if closed is not None:
            closed.append(True)

    config = {"public_base_url": public_base_url} if public_base_url else {}
    return AsyncSMSService(
        messages=InMemoryMessageRepository(),
        templates=InMemoryTemplateRepository(),
        providers={
            "default": SigningProvider(default_state=SMSState.SENDING),
            "plain": ScriptedProvider(),
        },
        config=SMSConfig.from_mapping(config),
        clock=FixedClock(),
        on_close=on_close,
    )


async def delivered_report(service: AsyncSMSService, url: str) -> tuple[int, bytes, tuple[str, str]]:
    """A message sent; the form reporting it delivered and its signature header over ``url``."""
    message = await service.send("+420777123456", "x")
    params = {"Ref": message.provider_ref or "", "Status": "delivered"}
    return message.id or 0, urlencode(params).encode(), ("X-Signature", sign(url, params))


async def test_a_body_in_several_chunks_without_a_length_is_read_whole() -> None:
    """Chunked transfer (no Content-Length): the events are joined, the report applied."""
    async with service_with() as service:
        app = asgi_webhook_app(service)
        message_id, body, signature = await delivered_report(service, f"{PUBLIC_BASE}/status/default/")
        chunks = [body[i : i + 7] for i in range(0, len(body), 7)]
        answer = await exchange(app, "/status/default/", chunks=chunks, headers=[FORM, signature])
        assert (answer.status, answer.body) == (200, b"")
        assert service.messages.get(message_id).state is SMSState.DELIVERED


async def test_an_oversize_body_is_cut_off_at_the_limit_unread() -> None:
    """160 KiB in 16 KiB events with no Content-Length: 413 after the fifth event (the first past 64 KiB); the
    rest is never read, nothing changes."""
    async with service_with() as service:
        app = asgi_webhook_app(service)
        message_id, body, signature = await delivered_report(service, f"{PUBLIC_BASE}/status/default/")
        chunks = [body + b"&pad=" + b"x" * (16 * 1024 - len(body) - 5)] + [b"x" * 16 * 1024] * 9
        answer = await exchange(app, "/status/default/", chunks=chunks, headers=[FORM, signature])
        assert answer.status == 413
        assert answer.reads == MAX_CALLBACK_BODY // (16 * 1024) + 1
        assert service.messages.get(message_id).state is SMSState.SENDING


async def test_a_declared_length_over_the_limit_or_not_a_number_is_refused_before_reading() -> None:
    async with service_with() as service:
        app = asgi_webhook_app(service)
        for length, status in ((str(MAX_CALLBACK_BODY + 1), 413), ("12x", 400), ("-1", 400)):
            answer = await exchange(app, "/status/default/", headers=[FORM, ("Content-Length", length)])
            assert (answer.status, answer.reads) == (status, 0)


async def test_a_client_that_disconnects_gets_no_answer_and_changes_nothing() -> None:
    async with service_with() as service:
        app = asgi_webhook_app(service)
        message_id, _, signature = await delivered_report(service, f"{PUBLIC_BASE}/status/default/")
        answer = await exchange(app, "/status/default/", headers=[FORM, signature], disconnect=True)
        assert answer.status is None
        assert service.messages.get(message_id).state is SMSState.SENDING


async def test_unknown_paths_and_providers_are_404_and_a_provider_without_callbacks_400() -> None:
    """The webhook app routes only providers that take callbacks; an app built for one that takes none says so."""
    async with service_with() as service:
        app = asgi_webhook_app(service)
        for path in ("/status/other/", "/status/plain/", "/inbound/default/", "/status/default", "/"):
            assert (await exchange(app, path, headers=[FORM])).status == 404
        answer = await exchange(asgi_status_callback_app(service, "plain"), "/status/plain/", headers=[FORM])
        assert (answer.status, answer.body) == (
            400,
            b"provider 'plain' is not configured or takes no status callbacks\n",
        )


@pytest.mark.parametrize("public_base_url", [None, PUBLIC_BASE])
async def test_root_path_is_the_mount_point(public_base_url: str | None) -> None:
    """Mounted at /hooks (root_path): without a public base URL the URL signed is the request's own, root_path
    included; with one, the public base stands for the mount point and only the path below it follows."""
    async with service_with(public_base_url=public_base_url) as service:
        app = asgi_webhook_app(service)
        signed_url = f"{public_base_url or 'http://10.0.0.5:8000/hooks'}/status/default/"
        message_id, body, signature = await delivered_report(service, signed_url)
        answer = await exchange(
            app, "/hooks/status/default/", root_path="/hooks", chunks=[body], headers=[FORM, signature]
        )
        assert answer.status == 200
        assert service.messages.get(message_id).state is SMSState.DELIVERED


async def test_lifespan_is_accepted_and_closes_the_service_only_when_asked() -> None:
    closed: list[bool] = []
    service = service_with(closed=closed)
    assert await lifespan(asgi_webhook_app(service)) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert closed == []
    owner = asgi_webhook_app(service, close_service=True)
    assert await lifespan(owner) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert closed == [True]


async def test_a_websocket_is_refused_and_other_scopes_raise() -> None:
    async with service_with() as service:
        app = asgi_webhook_app(service)
        sent: list[str] = []

        async def receive() -> dict[str, str]:
            return {"type": "websocket.connect"}

        async def send(message: object) -> None:
            sent.append(message["type"])  # type: ignore[index]

        await app({"type": "websocket", "path": "/status/default/"}, receive, send)
        assert sent == ["websocket.close"]
        with pytest.raises(ValueError, match="serves HTTP"):
            await app({"type": "telepathy"}, receive, send)


def test_a_synchronous_service_is_refused_when_the_app_is_built() -> None:
    from smscore import SMSService

    service = SMSService(
        messages=InMemoryMessageRepository(),
        templates=InMemoryTemplateRepository(),
        providers={"default": ScriptedProvider()},
    )
    with pytest.raises(TypeError, match="needs an AsyncSMSService"):
        asgi_webhook_app(service)  # type: ignore[arg-type]
