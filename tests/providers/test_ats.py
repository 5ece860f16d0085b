"""The ATS backend against a loopback fake ATS gateway: real HTTP over 127.0.0.1, asserting what reached the wire."""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import httpx
import pytest

import smscore
from providers.ats import DEFAULT_URL, ATSSMSBackend
from smscore import Outcome, SMSState
from smscore.errors import ConfigurationError, ProviderError
from tests.contracts.providers import ProviderContract, wire_message
from tests.providers.fake_gateways import ATSGateway, Reply, free_port

PASSWORD = "pw-S3cr3t<&>\"'"
ESCAPED_PASSWORDS = (PASSWORD, "pw-S3cr3t&lt;&amp;&gt;", "S3cr3t")


def options(gateway: ATSGateway, **changes: Any) -> dict[str, Any]:
    """Backend options pointing at ``gateway``, as strings (as the environment gives them)."""
    result: dict[str, Any] = {
        "url": gateway.url,
        "username": "user",
        "password": PASSWORD,
        "project_keyword": "BENCHKW",
        "output_sender_number": "90099",
        "uniq_prefix": "app1",
        "validity": "60",
        "timeout": "0.8",
    }
    result.update(changes)
    return result


@pytest.fixture
def gateway() -> Iterator[ATSGateway]:
    with ATSGateway(username="user", password=PASSWORD) as fake:
        yield fake


@pytest.fixture
def backend(gateway: ATSGateway) -> Iterator[ATSSMSBackend]:
    with ATSSMSBackend.from_options(options(gateway)) as built:
        yield built


def sms_elements(body: bytes) -> list[ET.Element]:
    return ET.fromstring(body).findall("sms")


@attrs.define
class ATSHarness:
    """The ATS backend and its fake gateway, for the provider contract."""

    gateway: ATSGateway
    provider: ATSSMSBackend

    def peer_accepts(self) -> None:
        self.gateway.default = Reply()

    def peer_rejects(self) -> None:
        self.gateway.script(Reply(code=350))

    def peer_fails_transiently(self) -> None:
        self.gateway.script(Reply(status=503))

    def peer_times_out_after_receiving(self) -> None:
        self.gateway.script(Reply(delay=2.0))

    def peer_holds_the_request(self) -> None:
        self.gateway.script(Reply(delay=2.0))

    def received(self) -> list[tuple[str, str]]:
        return [(sms.recipient, sms.text) for sms in self.gateway.received]


class TestATSContract(ProviderContract):
    """The provider contract, against the fake ATS gateway."""

    @pytest.fixture
    def harness(self, gateway: ATSGateway, backend: ATSSMSBackend) -> ATSHarness:
        return ATSHarness(gateway, backend)


class TestSendRequest:
    """What a send puts on the wire."""

    def test_every_field_reaches_the_gateway(self, gateway: ATSGateway) -> None:
        """uniq, sender, recipient, opmid (from optid), dlr, validity, kw and textid are sent as configured."""
        with ATSSMSBackend.from_options(options(gateway, optid="77", textid="TXT1", validity=90)) as backend:
            message = wire_message("Kód 1234")
            (outcome,) = backend.publish([message])
        assert outcome.state is SMSState.SENDING
        assert outcome.provider_ref == f"app1-{message.id}"
        (sms,) = sms_elements(gateway.requests[0].body)
        assert sms.attrib == {
            "type": "text",
            "uniq": f"app1-{message.id}",
            "sender": "90099",
            "recipient": "+420777123456",
            "opmid": "77",
            "dlr": "1",
            "validity": "90",
            "kw": "BENCHKW",
            "textid": "TXT1",
        }
        assert sms.find("body") is not None
        assert sms.findtext("body") == "Kód 1234"
        assert outcome.extra_sender_data == {
            "prefix": "app1",
            "validity": 90,
            "kw": "BENCHKW",
            "textid": "TXT1",
            "sender_state": 0,
        }

    def test_the_body_is_utf8_bytes_declared_as_utf8(self, gateway: ATSGateway, backend: ATSSMSBackend) -> None:
        """The request body is UTF-8 with a declaration saying so, and the content type says so too."""
        backend.publish([wire_message("Žluťoučký 🎉")])
        request = gateway.requests[0]
        assert request.method == "POST"
        assert request.headers["content-type"] == "text/xml; charset=utf-8"
        assert request.body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
        assert "Žluťoučký 🎉".encode() in request.body

    def test_a_message_sender_wins_over_the_configured_one(self, gateway: ATSGateway, backend: ATSSMSBackend) -> None:
        """A message with its own sender is sent from it."""
        backend.publish([wire_message(sender="ACME")])
        assert gateway.received[0].sender == "ACME"

    def test_control_characters_are_removed_and_counted(self, gateway: ATSGateway, backend: ATSSMSBackend) -> None:
        """Characters XML cannot carry are dropped (the rest arrives intact) and the count is kept."""
        (outcome,) = backend.publish([wire_message("bell\x07 and\x00 nul\r\nnext\tline")])
        assert gateway.received[0].text == "bell and nul\r\nnext\tline"
        assert outcome.extra_sender_data["stripped_characters"] == 2

    def test_the_empty_prefix_gives_a_bare_id(self, gateway: ATSGateway) -> None:
        """Without a prefix the uniq is the id alone, not ``-<id>``."""
        with ATSSMSBackend.from_options(options(gateway, uniq_prefix="")) as backend:
            message = wire_message()
            (outcome,) = backend.publish([message])
        assert gateway.received[0].uniq == str(message.id)
        assert outcome.provider_ref == str(message.id)

    def test_big_batches_are_chunked(self, gateway: ATSGateway) -> None:
        """250 messages with a maximum of 100 per request make three requests and 250 outcomes in order."""
        with ATSSMSBackend.from_options(options(gateway, max_batch_size="100")) as backend:
            assert backend.max_batch_size == 100
            messages = [wire_message(f"m{i}") for i in range(250)]
            outcomes = backend.publish(messages)
        assert [len(sms_elements(r.body)) for r in gateway.requests] == [100, 100, 50]
        assert [o.provider_ref for o in outcomes] == [f"app1-{m.id}" for m in messages]
        assert all(o.state is SMSState.SENDING for o in outcomes)

    def test_the_connection_is_kept_alive(self, gateway: ATSGateway, backend: ATSSMSBackend) -> None:
        """Many requests reuse one TCP connection."""
        for _ in range(5):
            backend.publish([wire_message()])
        backend.bulk_check_sms_states([wire_message()])
        assert len(gateway.requests) == 6
        assert gateway.connections == 1

    def test_under_asyncio_batches_are_chunked_over_one_kept_connection(self, gateway: ATSGateway) -> None:
        """The asyncio client chunks as the sync one does, keeps its connection alive, and checks the same way."""

        async def publish_then_check(backend: ATSSMSBackend, messages: list[Any]) -> Any:
            try:
                outcomes = await backend.apublish(messages)
                return outcomes, await backend.abulk_check_sms_states(messages)
            finally:
                await backend.aclose()

        messages = [wire_message(f"m{i}") for i in range(250)]
        with ATSSMSBackend.from_options(options(gateway, max_batch_size="100")) as backend:
            outcomes, reports = asyncio.run(publish_then_check(backend, messages))
        assert [len(sms_elements(r.body)) for r in gateway.requests[:3]] == [100, 100, 50]
        assert len(gateway.requests) == 6
        assert gateway.connections == 1
        assert [o.provider_ref for o in outcomes] == [f"app1-{m.id}" for m in messages]
        assert all(o.state is SMSState.SENDING for o in outcomes)
        assert all(r is not None and r.state is SMSState.DELIVERED for r in reports)

    def test_a_message_without_id_is_rejected_without_a_request(
        self, gateway: ATSGateway, backend: ATSSMSBackend
    ) -> None:
        """An unstored message cannot be keyed on the wire: ERROR, and the others still go."""
        outcomes = backend.publish([wire_message(id=None), wire_message()])
        assert [o.state for o in outcomes] == [SMSState.ERROR, SMSState.SENDING]
        assert len(gateway.received) == 1


class TestSendAnswers:
    """How the gateway's answers become outcomes, over HTTP."""

    @pytest.mark.parametrize(
        ("code", "state"),
        [
            (0, SMSState.SENDING),
            (21, SMSState.SENDING),
            (22, SMSState.SENT),
            (23, SMSState.DELIVERED),
            (341, SMSState.ERROR),
            (350, SMSState.ERROR),
            (334, SMSState.WAITING),
            (25, SMSState.UNKNOWN),
            (999, SMSState.UNKNOWN),
        ],
    )
    def test_per_message_codes(self, gateway: ATSGateway, backend: ATSSMSBackend, code: int, state: SMSState) -> None:
        """Each message's code decides its state; the raw code is kept."""
        gateway.script(Reply(code=code))
        (outcome,) = backend.publish([wire_message()])
        assert outcome.state is state
        assert outcome.extra_sender_data["sender_state"] == code
        if state not in {SMSState.SENDING, SMSState.SENT, SMSState.DELIVERED}:
            assert outcome.error_code == str(code)
            assert outcome.error

    def test_codes_apply_per_message(self, gateway: ATSGateway, backend: ATSSMSBackend) -> None:
        """One bad recipient fails alone."""
        gateway.codes["+420777000002"] = 350
        outcomes = backend.publish([wire_message(recipient=f"+42077700000{i}") for i in range(1, 4)])
        assert [o.state for o in outcomes] == [SMSState.SENDING, SMSState.ERROR, SMSState.SENDING]
        assert outcomes[1].error == "ATS code 350: recipient missing or in a bad format"

    def test_a_uniq_used_twice_is_ambiguous_not_an_error(self, gateway: ATSGateway, backend: ATSSMSBackend) -> None:
        """310 means the gateway already holds the message (an earlier attempt reached it): UNKNOWN, so a delivery
        check decides, instead of failing a message that was sent."""
        message = wire_message()
        backend.publish([message])
        (again,) = backend.publish([message])
        assert again.state is SMSState.UNKNOWN
        assert again.error_code == "310"
        (report,) = backend.bulk_check_sms_states([attrs.evolve(message, state=SMSState.UNKNOWN)])
        assert report is not None
        assert report.state is SMSState.DELIVERED

    def test_wrong_credentials_reject_every_message(self, gateway: ATSGateway) -> None:
        """Code 100 without uniq: every message ERROR with a clear reason, not retried."""
        with ATSSMSBackend.from_options(options(gateway, password="wrong")) as backend:
            outcomes = backend.publish([wire_message(), wire_message()])
        assert [o.state for o in outcomes] == [SMSState.ERROR, SMSState.ERROR]
        assert outcomes[0].error == "ATS refused the whole request: code 100: authentication failed"
        assert outcomes[0].error_code == "100"

    @pytest.mark.parametrize(("code", "state"), [(705, SMSState.ERROR), (701, SMSState.ERROR), (200, SMSState.UNKNOWN)])
    def test_request_level_codes(self, gateway: ATSGateway, backend: ATSSMSBackend, code: int, state: SMSState) -> None:
        """A code without uniq concerns every message of the request."""
        gateway.script(Reply(body=ATSGateway.document([(None, code)])))
        outcomes = backend.publish([wire_message(), wire_message()])
        assert {o.state for o in outcomes} == {state}
        assert all(o.error_code == str(code) for o in outcomes)

    def test_omitted_and_foreign_ids(
        self, gateway: ATSGateway, backend: ATSSMSBackend, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A message the answer omits is UNKNOWN alone; ids nobody asked about are ignored and logged."""
        first, second = wire_message(), wire_message()
        answer = ATSGateway.document([(f"app1-{first.id}", 0), ("app1-999999", 0), ("other-1", 24), ("garbage", 0)])
        gateway.script(Reply(body=answer))
        with caplog.at_level(logging.WARNING, logger="providers.ats"):
            outcomes = backend.publish([first, second])
        assert [o.state for o in outcomes] == [SMSState.SENDING, SMSState.UNKNOWN]
        assert "without a status for this message" in (outcomes[1].error or "")
        assert "3 id(s) not asked for" in caplog.text


class TestTransportFailures:
    """Network and HTTP failures become outcomes; nothing escapes."""

    @pytest.mark.parametrize(
        ("reply", "state"),
        [
            (Reply(status=500), SMSState.WAITING),
            (Reply(status=502), SMSState.WAITING),
            (Reply(status=503), SMSState.WAITING),
            (Reply(status=504), SMSState.WAITING),
            (Reply(status=429), SMSState.WAITING),
            (Reply(status=408), SMSState.WAITING),
            (Reply(status=401), SMSState.ERROR),
            (Reply(status=403), SMSState.ERROR),
            (Reply(status=404), SMSState.ERROR),
            (Reply(status=400), SMSState.ERROR),
            (Reply(status=301), SMSState.ERROR),
            (Reply(delay=2.0), SMSState.UNKNOWN),
            (Reply(close=True), SMSState.UNKNOWN),
            (Reply(truncate=30), SMSState.UNKNOWN),
            (Reply(body=b'<?xml version="1.0"?>\n<status>\n<code uniq="app1-'), SMSState.UNKNOWN),
            (Reply(body=b"<html><body>Bad Gateway</body>"), SMSState.UNKNOWN),
            (Reply(body=b""), SMSState.UNKNOWN),
            (Reply(body=b"x" * (4 * 1024 * 1024 + 1)), SMSState.UNKNOWN),
            (Reply(status=204, body=b""), SMSState.UNKNOWN),
        ],
        ids=lambda value: repr(value)[:60] if isinstance(value, Reply) else str(value),
    )
    def test_failures(self, gateway: ATSGateway, backend: ATSSMSBackend, reply: Reply, state: SMSState) -> None:
        """Each failure gives every message of the request the same, explained state."""
        gateway.script(reply)
        outcomes = backend.publish([wire_message(), wire_message()])
        assert [o.state for o in outcomes] == [state, state]
        assert all(o.error for o in outcomes)
        assert len(gateway.requests) == 1

    def test_a_timeout_leaves_a_message_the_gateway_took(self, gateway: ATSGateway, backend: ATSSMSBackend) -> None:
        """The gateway processed the request but answered too late: UNKNOWN, and a check finds it delivered."""
        gateway.script(Reply(delay=2.0))
        message = wire_message()
        started = time.monotonic()
        (outcome,) = backend.publish([message])
        assert time.monotonic() - started < 1.5
        assert outcome.state is SMSState.UNKNOWN
        assert "ReadTimeout" in (outcome.error or "")
        (report,) = backend.bulk_check_sms_states([attrs.evolve(message, state=SMSState.UNKNOWN)])
        assert report is not None
        assert report.state is SMSState.DELIVERED

    def test_connection_refused_is_transient(self) -> None:
        """Nobody listening: the request never left, WAITING."""
        url = f"http://127.0.0.1:{free_port()}/gateway"
        opts = {"url": url, "username": "u", "password": PASSWORD, "project_keyword": "K", "output_sender_number": "1"}
        with ATSSMSBackend.from_options(opts) as backend:
            (outcome,) = backend.publish([wire_message()])
            with pytest.raises(ProviderError, match="ConnectError"):
                backend.bulk_check_sms_states([wire_message()])
        assert outcome.state is SMSState.WAITING
        assert "ConnectError" in (outcome.error or "")

    def test_waiting_for_a_pooled_connection_is_transient(self, gateway: ATSGateway) -> None:
        """All connections busy past the timeout (PoolTimeout): the request never left, WAITING."""
        client = httpx.Client(timeout=httpx.Timeout(0.5, pool=0.1), limits=httpx.Limits(max_connections=1))
        backend = ATSSMSBackend(
            client,
            url=gateway.url,
            username="user",
            password=PASSWORD,
            project_keyword="K",
            output_sender_number="1",
        )
        gateway.script(Reply(delay=0.4))
        busy = threading.Thread(target=backend.publish, args=([wire_message()],))
        with backend:
            busy.start()
            time.sleep(0.1)
            (outcome,) = backend.publish([wire_message()])
            busy.join()
        assert outcome.state is SMSState.WAITING
        assert "PoolTimeout" in (outcome.error or "")

    @pytest.mark.parametrize(
        ("exception", "state"),
        [
            (httpx.ConnectTimeout("connect timed out"), SMSState.WAITING),
            (httpx.ConnectError("name resolution failed"), SMSState.WAITING),
            (httpx.ProxyError("proxy refused"), SMSState.WAITING),
            (httpx.ReadTimeout("read timed out"), SMSState.UNKNOWN),
            (httpx.WriteTimeout("write timed out"), SMSState.UNKNOWN),
            (httpx.ReadError("connection reset by peer"), SMSState.UNKNOWN),
            (httpx.RemoteProtocolError("peer closed connection"), SMSState.UNKNOWN),
            (httpx.UnsupportedProtocol("no such scheme"), SMSState.ERROR),
            (RuntimeError("defect"), SMSState.UNKNOWN),
        ],
        ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
    )
    def test_every_httpx_error_is_translated(self, exception: Exception, state: SMSState) -> None:
        """Errors raised by the transport (through httpx's MockTransport seam) become outcomes; none escapes."""

        def fail(request: httpx.Request) -> httpx.Response:
            raise exception

        client = httpx.Client(transport=httpx.MockTransport(fail))
        with ATSSMSBackend(
            client, username="u", password=PASSWORD, project_keyword="K", output_sender_number="1"
        ) as backend:
            (outcome,) = backend.publish([wire_message()])
            with pytest.raises(ProviderError, match="delivery check failed"):
                backend.bulk_check_sms_states([wire_message()])
        assert outcome.state is state
        assert outcome.error


class TestDeliveryChecks:
    """``<dlr>`` requests and what their answers do."""

    def test_the_dlr_request_names_every_message(self, gateway: ATSGateway, backend: ATSSMSBackend) -> None:
        """One ``<dlr uniq=..>uniq</dlr>`` per message, after the credentials."""
        messages = [wire_message(), wire_message()]
        backend.bulk_check_sms_states(messages)
        root = ET.fromstring(gateway.requests[0].body)
        assert root.findtext("auth/name") == "user"
        assert root.findtext("auth/password") == PASSWORD
        assert [(d.get("uniq"), d.text) for d in root.findall("dlr")] == [
            (f"app1-{m.id}", f"app1-{m.id}") for m in messages
        ]

    @pytest.mark.parametrize(
        ("code", "state"),
        [
            (23, SMSState.DELIVERED),
            (22, SMSState.SENT),
            (21, SMSState.SENDING),
            (0, SMSState.SENDING),
            (24, SMSState.ERROR),
            (25, SMSState.SENDING),
            (999, SMSState.SENDING),
        ],
    )
    def test_delivery_codes(self, gateway: ATSGateway, backend: ATSSMSBackend, code: int, state: SMSState) -> None:
        """A SENDING message moves as the code says, or stays put (with the raw code kept) when it says nothing."""
        message = wire_message()
        backend.publish([message])
        gateway.set_state(f"app1-{message.id}", code)
        (report,) = backend.bulk_check_sms_states([attrs.evolve(message, state=SMSState.SENDING)])
        assert report is not None
        assert report.state is state
        assert report.extra_sender_data["sender_state"] == code

    def test_not_found_means_never_received_for_an_unknown_message(self, backend: ATSSMSBackend) -> None:
        """Code 20 for a message UNKNOWN for longer than the grace period: the gateway never got it, WAITING
        (safe to send again); for a message the gateway had accepted, an error."""
        long_ago = datetime.now(UTC) - timedelta(minutes=2)
        unknown = wire_message(state=SMSState.UNKNOWN, changed_at=long_ago)
        sending = wire_message(state=SMSState.SENDING, changed_at=long_ago)
        reports = backend.bulk_check_sms_states([unknown, sending])
        assert [r.state if r else None for r in reports] == [SMSState.WAITING, SMSState.ERROR]

    def test_not_found_proves_nothing_right_after_a_timeout(self, gateway: ATSGateway) -> None:
        """Within ``not_found_grace`` of becoming UNKNOWN, "not found" leaves the message UNKNOWN (the request
        that timed out may still be processed), keeping the code."""
        with ATSSMSBackend.from_options(options(gateway, not_found_grace="30")) as backend:
            recent = wire_message(state=SMSState.UNKNOWN, changed_at=datetime.now(UTC) - timedelta(seconds=5))
            (report,) = backend.bulk_check_sms_states([recent])
        assert report is not None
        assert (report.state, report.error_code) == (SMSState.UNKNOWN, "20")

    def test_checks_are_chunked(self, gateway: ATSGateway) -> None:
        """250 messages with at most 100 per request: three requests, 250 reports in order."""
        with ATSSMSBackend.from_options(options(gateway, max_batch_size=100)) as backend:
            reports = backend.bulk_check_sms_states([wire_message(state=SMSState.SENDING) for _ in range(250)])
        assert [len(ET.fromstring(r.body).findall("dlr")) for r in gateway.requests] == [100, 100, 50]
        assert len(reports) == 250
        assert all(r is not None and r.state is SMSState.ERROR for r in reports)

    @pytest.mark.parametrize(
        "reply",
        [
            Reply(status=503),
            Reply(status=401),
            Reply(delay=2.0),
            Reply(body=b"<status><code"),
            Reply(body=ATSGateway.document([(None, 100)])),
            Reply(body=ATSGateway.document([(None, 705)])),
        ],
        ids=["503", "401", "timeout", "malformed", "auth", "xml-invalid"],
    )
    def test_a_check_that_gets_no_answer_raises(
        self, gateway: ATSGateway, backend: ATSSMSBackend, reply: Reply
    ) -> None:
        """A check whose only request fails raises ProviderError (the service counts a failed request) rather
        than answering "nothing new", and the error carries no password."""
        gateway.script(reply)
        with pytest.raises(ProviderError, match="ATS delivery check failed") as raised:
            backend.bulk_check_sms_states([wire_message(), wire_message()])
        assert "secret" not in str(raised.value)

    def test_a_check_keeps_the_answers_of_the_requests_that_worked(self, gateway: ATSGateway) -> None:
        """Two requests, the first fails: its messages get None, the second's reports are kept, nothing raised."""
        with ATSSMSBackend.from_options(options(gateway, max_batch_size=1)) as backend:
            first, second = wire_message(state=SMSState.SENDING), wire_message(state=SMSState.SENDING)
            gateway.script(Reply(status=503))
            reports = backend.bulk_check_sms_states([first, second])
        assert reports[0] is None
        assert reports[1] is not None

    def test_failed_checks_are_counted_by_the_service_and_change_nothing(self, gateway: ATSGateway) -> None:
        """End to end: the gateway is down during check_delivery: one failed request, the message unchanged."""
        config = {"provider": "ats", "storage": "memory", "provider_options": options(gateway)}
        with smscore.build_service(config) as service:
            message = service.send("+420777123456", "Hello")
            gateway.default = Reply(status=503)
            report = service.check_delivery()
            assert (report.failed_chunks, report.changed) == (1, 0)
            assert service.messages.get(message.id or 0) == message


class TestOptions:
    """``from_options``: required options, coercion from strings, refusals keyed by the option's name."""

    @pytest.mark.parametrize("name", ["username", "password", "project_keyword", "output_sender_number"])
    def test_a_missing_required_option_is_named(self, gateway: ATSGateway, name: str) -> None:
        """A missing (or empty) required option raises ConfigurationError keyed by its name."""
        for missing in (None, ""):
            opts = options(gateway)
            if missing is None:
                del opts[name]
            else:
                opts[name] = missing
            with pytest.raises(ConfigurationError) as caught:
                ATSSMSBackend.from_options(opts)
            assert caught.value.key == name

    def test_build_service_names_the_full_key(self, gateway: ATSGateway) -> None:
        """Through the composition root the key is ``providers.NAME.options.OPTION``."""
        opts = options(gateway)
        del opts["password"]
        with pytest.raises(ConfigurationError) as caught:
            smscore.build_service({"provider": "ats", "provider_options": opts})
        assert caught.value.key == "providers.default.options.password"

    @pytest.mark.parametrize(
        ("name", "value"),
        [
            ("validity", "abc"),
            ("validity", "0"),
            ("timeout", "0"),
            ("timeout", "soon"),
            ("max_batch_size", "0"),
            ("max_batch_size", "2.5"),
            ("max_batch_size", True),
            ("url", "ftp://gateway.example/"),
            ("url", "https://user:pass@gateway.example/"),
            ("url", "not a url"),
            ("uniq_prefix", "app\n1"),
            ("uniq_prefix", " app"),
            ("not_found_grace", "-1"),
            ("username", "bell\x07"),
            ("pasword", "typo"),
        ],
    )
    def test_bad_values_are_refused_by_name(self, gateway: ATSGateway, name: str, value: object) -> None:
        """A wrong value or an unknown option raises ConfigurationError keyed by the option's name."""
        with pytest.raises(ConfigurationError) as caught:
            ATSSMSBackend.from_options(options(gateway, **{name: value}))
        assert caught.value.key == name
        assert PASSWORD not in str(caught.value)

    def test_strings_are_coerced(self, gateway: ATSGateway) -> None:
        """Numbers given as strings (environment variables) are read as numbers."""
        opts = options(gateway, validity="90", timeout="2.5", max_batch_size="50", uniq_prefix=7)
        with ATSSMSBackend.from_options(opts) as backend:
            assert backend.max_batch_size == 50
            assert backend.client.timeout == httpx.Timeout(2.5)
            message = wire_message()
            backend.publish([message])
        assert gateway.received[0].attributes["validity"] == "90"
        assert gateway.received[0].uniq == f"7-{message.id}"

    def test_the_default_url_is_https(self) -> None:
        """Credentials travel in the body, so the default address is the HTTPS one."""
        opts = {"username": "u", "password": "p", "project_keyword": "K", "output_sender_number": "1"}
        with ATSSMSBackend.from_options(opts) as backend:
            assert backend.url == DEFAULT_URL
        assert DEFAULT_URL.startswith("https://")

    def test_close_closes_the_client(self, gateway: ATSGateway) -> None:
        """``close`` releases the HTTP client and its connections."""
        backend = ATSSMSBackend.from_options(options(gateway))
        backend.close()
        assert backend.client.is_closed

    def test_it_checks_delivery_by_our_own_id(self, backend: ATSSMSBackend) -> None:
        """The backend is a delivery checker that can ask about a message by our id."""
        assert isinstance(backend, smscore.DeliveryChecker)
        assert backend.can_check_by_our_id is True


class TestCredentials:
    """The password appears nowhere but in the request body."""

    def test_the_password_never_leaks(self, gateway: ATSGateway, caplog: pytest.LogCaptureFixture) -> None:
        """Through every failure path: no outcome string, repr or log record (at DEBUG) holds the password."""
        caplog.set_level(logging.DEBUG)
        echo = PASSWORD.encode()
        escaped = b"pw-S3cr3t&lt;&amp;&gt;&quot;'"
        replies = [
            Reply(),
            Reply(code=341),
            Reply(code=999),
            Reply(status=500, body=b"internal error, request was: " + echo),
            Reply(status=401, body=echo),
            Reply(status=403),
            Reply(status=429),
            Reply(delay=2.0),
            Reply(close=True),
            Reply(truncate=10),
            Reply(body=b"<status><code uniq='" + echo + b"'>0</code>"),
            Reply(body=b"<status><code uniq='" + echo + b"'>0</code></status>"),
            Reply(body=b"<status><code uniq='app1-1'>" + echo + b"</code><code>" + echo + b"</code></status>"),
            Reply(body=ATSGateway.document([(None, 100)])),
            Reply(body=ATSGateway.document([(None, 705)])),
            Reply(body=ATSGateway.document([(None, PASSWORD)])),
            Reply(body=b'<status><code uniq="app1-1">' + b"x" * 30 + escaped + b"</code></status>"),
            Reply(body=b'<status><code uniq="' + escaped + b'">0</code><code>' + escaped + b"</code></status>"),
            Reply(body=b'<!DOCTYPE x [<!ENTITY a "' + echo + b'">]><status>&a;</status>'),
        ]
        texts: list[str] = []
        with ATSSMSBackend.from_options(options(gateway, uniq_prefix="app1")) as backend:
            texts.append(repr(backend))
            for reply in replies:
                for step in ("publish", "check"):
                    gateway.script(reply)
                    message = wire_message(id=1)
                    if step == "publish":
                        results: list[Outcome | None] = list(backend.publish([message]))
                    else:
                        try:
                            results = list(backend.bulk_check_sms_states([message]))
                        except ProviderError as exc:
                            texts.append(str(exc))
                            results = []
                    texts.extend(repr(result) for result in results)
        with ATSSMSBackend.from_options(options(gateway, password="wrong-" + PASSWORD)) as backend:
            texts.extend(repr(o) for o in backend.publish([wire_message()]))
        url = f"http://127.0.0.1:{free_port()}/"
        with ATSSMSBackend.from_options(options(gateway, url=url)) as backend:
            texts.extend(repr(o) for o in backend.publish([wire_message()]))
        texts.extend(record.getMessage() for record in caplog.records)
        texts.append(caplog.text)
        assert len(gateway.requests) >= len(replies) * 2
        assert PASSWORD.encode() in gateway.requests[0].body or b"pw-S3cr3t&lt;&amp;&gt;" in gateway.requests[0].body
        for text in texts:
            for form in ESCAPED_PASSWORDS:
                assert form not in text, text


class TestEndToEnd:
    """Through ``smscore.build_service`` with the ``ats`` alias."""

    def test_send_then_check_delivery(self, gateway: ATSGateway) -> None:
        """send -> SENDING (on the wire), check_delivery -> DELIVERED."""
        with smscore.build_service({"provider": "ats", "provider_options": options(gateway)}) as service:
            message = service.send("+420 777 123 456", "Your code is 1234 <&>")
            assert message.state is SMSState.SENDING
            assert message.provider_ref == f"app1-{message.id}"
            assert gateway.received[0].text == "Your code is 1234 <&>"
            assert gateway.received[0].recipient == "+420777123456"
            report = service.check_delivery()
            assert report.changed == 1
            stored = service.messages.get(message.id or 0)
        assert stored.state is SMSState.DELIVERED
        assert stored.extra_sender_data["sender_state"] == 23
        dlr = ET.fromstring(gateway.requests[-1].body).find("dlr")
        assert dlr is not None
        assert dlr.get("uniq") == f"app1-{message.id}"

    def test_a_check_asks_the_gateway_about_each_message_once(self, gateway: ATSGateway) -> None:
        """Messages the check moves from SENDING to SENT are not asked about again in the same run."""
        with smscore.build_service({"provider": "ats", "provider_options": options(gateway)}) as service:
            messages = [service.send("+420777123456", f"hello {n}") for n in range(3)]
            for message in messages:
                gateway.set_state(message.provider_ref or "", 22)
            gateway.requests.clear()
            report = service.check_delivery()
            states = {service.messages.get(m.id or 0).state for m in messages}
        asked = collections.Counter(
            dlr.get("uniq") for request in gateway.requests for dlr in ET.fromstring(request.body).iter("dlr")
        )
        assert asked == {m.provider_ref: 1 for m in messages}
        assert (report.checked, report.changed, states) == (3, 3, {SMSState.SENT})

    def test_an_ambiguous_send_is_resolved_by_the_check(self, gateway: ATSGateway) -> None:
        """A read timeout leaves the message UNKNOWN; the delivery check finds it at the gateway."""
        gateway.script(Reply(delay=2.0))
        with smscore.build_service({"provider": "ats", "provider_options": options(gateway)}) as service:
            message = service.send("+420777123456", "hello")
            assert message.state is SMSState.UNKNOWN
            service.check_delivery()
            assert service.messages.get(message.id or 0).state is SMSState.DELIVERED

    def test_a_never_received_message_goes_back_to_waiting(self, gateway: ATSGateway) -> None:
        """The connection dropped before the gateway read the request: UNKNOWN, then the check says "not
        found" and the message is WAITING again, safe to send."""
        gateway.script(Reply(status=400, body=b"", close=True))
        config = {"provider": "ats", "provider_options": options(gateway, not_found_grace="0")}
        with smscore.build_service(config) as service:
            message = service.send("+420777123456", "hello")
            assert message.state is SMSState.UNKNOWN
            assert not gateway.messages
            service.check_delivery()
            assert service.messages.get(message.id or 0).state is SMSState.WAITING
