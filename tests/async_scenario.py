"""Every use case of ``AsyncSMSService`` on one asyncio storage, end to end: the scenario each storage's test module
runs on its own databases (an SQLite file in threads and psycopg async in tests/sqlalchemy, Django in tests/django,
memory in tests/core).

The provider is scripted and plays every role (publishing, delivery checks, status callbacks, inbound SMS) with
no network, so what is exercised is the storage under the asyncio driver.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import timedelta

import smscore
from smscore import AsyncSMSService, CallbackReport, InboundReport, Outcome, SMSConfig, SMSState, SMSTemplate
from smscore.async_ports import AsyncStorage
from smscore.inbound import WebhookRequest
from smscore.testing import FixedClock, ScriptedProvider

__all__ = ["EveryRoleProvider", "every_use_case"]


class EveryRoleProvider(ScriptedProvider):
    """A scripted provider that also reads status callbacks and inbound SMS, as JSON bodies without signatures."""

    def parse_status_callback(
        self, url: str, params: Mapping[str, str | Sequence[str]], headers: Mapping[str, str]
    ) -> CallbackReport:
        return CallbackReport(provider_ref=str(params["ref"]), outcome=Outcome.accepted(SMSState.DELIVERED))

    def parse_inbound(self, request: WebhookRequest) -> InboundReport | None:
        return InboundReport(**json.loads(request.body))


async def every_use_case(storage: AsyncStorage) -> None:
    """Send, render, send many (one opted out), schedule and cancel, publish from the outbox, check delivery, take a
    status callback and an inbound STOP, purge; each result checked against what the storage holds."""
    clock = FixedClock()
    provider = EveryRoleProvider(default_state=SMSState.SENDING, max_batch_size=1)
    config = SMSConfig.from_mapping(
        {"max_in_flight": 4, "inbound_keywords": {"stop": {"reply": "You will get no more SMS."}}}
    )
    parts = storage.storage
    service = AsyncSMSService(
        messages=parts.messages,
        templates=parts.templates,
        providers={"default": provider},
        config=config,
        clock=clock,
        rate_limiter=parts.rate_limiter,
        opt_outs=parts.opt_outs,
        refusals=parts.refusals,
        inbound=parts.inbound,
        run_storage=storage.run,
        on_close=storage.aclose,
    )
    async with service:
        first = await service.send("+420777000001", "Hello", tag="welcome", order=1)
        assert (first.state, first.extra_data) == (SMSState.SENDING, {"order": 1})

        await service.call(parts.templates.save, SMSTemplate(slug="otp", body="Code {{ code }}"))
        rendered = await service.send_template("+420777000002", "otp", {"code": "1234"})
        assert rendered is not None
        assert (rendered.content, rendered.template_slug) == ("Code 1234", "otp")

        await service.opt_outs.add("+420777000009", reason="STOP")
        batch = await service.send_many(["+420777000003", "+420777000009", "+420777000004"], "Doors open")
        assert [m.recipient for m in batch] == ["+420777000003", "+420777000004"]
        assert [item.index for item in batch.refused] == [1]

        later = await service.send("+420777000005", "Tomorrow", send_at=clock.now() + timedelta(hours=1))
        assert later.state is SMSState.WAITING
        cancelled = await service.cancel(later.id or 0)
        assert (cancelled.state, cancelled.error) == (SMSState.ERROR, "cancelled")

        queued = await service.send("+420777000006", "Queued", send_immediately=False)
        assert queued.state is SMSState.WAITING  # left to the outbox
        outbox = await service.process_outbox()
        assert (outbox.claimed, outbox.states) == (1, {SMSState.SENDING: 1})

        provider.report(first.id or 0, Outcome.accepted(SMSState.DELIVERED))
        report = await service.check_delivery()
        assert (report.checked, report.changed) == (5, 1)
        assert (await service.call(parts.messages.get, first.id or 0)).state is SMSState.DELIVERED

        ref = f"scripted-{rendered.id}"
        updated = await service.handle_status_callback("default", "https://example.com/", {"ref": ref}, {})
        assert updated is not None
        assert updated.state is SMSState.DELIVERED

        body = {"sender": "+420777000003", "recipient": "+420777999999", "content": "STOP", "provider_ref": "in-1"}
        inbound = await service.handle_inbound(
            "default", WebhookRequest("https://example.com/", json.dumps(body).encode())
        )
        assert inbound is not None
        assert await service.opt_outs.contains("+420777000003")
        replies = await service.call(parts.messages.find, tag=smscore.inbound.REPLY_TAG)
        assert [m.content for m in replies] == ["You will get no more SMS."]

        clock.advance(days=400)
        assert await service.purgeable(timedelta(days=30)) == {SMSState.DELIVERED: 2, SMSState.ERROR: 1}
        assert await service.purge(timedelta(days=30)) == 3
