"""The SMS-operator backend against a loopback fake SMS-operator service: real HTTP over 127.0.0.1."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import httpx
import pytest

import smscore
from providers.sms_operator import DEFAULT_URL, SMSOperatorBackend
from smscore import Outcome, SMSState
from smscore.errors import ConfigurationError, ProviderError
from tests.contracts.providers import ProviderContract, wire_message
from tests.providers.fake_gateways import Reply, SMSOperatorGateway, free_port

PASSWORD = "op-S3cr3t<&>\"'"
PASSWORD_FORMS = (PASSWORD, "op-S3cr3t&lt;&amp;&gt;", "S3cr3t")


def options(gateway: SMSOperatorGateway, **changes: Any) -> dict[str, Any]:
    """Backend options pointing at ``gateway``, as strings (as the environment gives them)."""
    result: dict[str, Any] = {
        "url": gateway.url,
        "username": "user",
        "password": PASSWORD,
        "uniq_prefix": "shop-2",
        "timeout": "0.8",
    }
    result.update(changes)
    return result


@pytest.fixture
def gateway() -> Iterator[SMSOperatorGateway]:
    with SMSOperatorGateway(username="user", password=PASSWORD) as fake:
        yield fake


@pytest.fixture
def backend(gateway: SMSOperatorGateway) -> Iterator[SMSOperatorBackend]:
    with SMSOperatorBackend.from_options(options(gateway)) as built:
        yield built


@attrs.define
class SMSOperatorHarness:
    """The SMS-operator backend and its fake service, for the provider contract."""

    gateway: SMSOperatorGateway
    provider: SMSOperatorBackend

    def peer_accepts(self) -> None:
        self.gateway.default = Reply()

    def peer_rejects(self) -> None:
        self.gateway.script(Reply(code=4))

    def peer_fails_transiently(self) -> None:
        self.gateway.script(Reply(status=503))

    def peer_times_out_after_receiving(self) -> None:
        self.gateway.script(Reply(delay=2.0))

    def peer_holds_the_request(self) -> None:
        self.gateway.script(Reply(delay=2.0))

    def received(self) -> list[tuple[str, str]]:
        return [(sms.recipient, sms.text) for sms in self.gateway.received]


class TestSMSOperatorContract(ProviderContract):
    """The provider contract, against the fake SMS-operator service."""

    @pytest.fixture
    def harness(self, gateway: SMSOperatorGateway, backend: SMSOperatorBackend) -> SMSOperatorHarness:
        return SMSOperatorHarness(gateway, backend)


class TestSending:
    """What a send puts on the wire and what the acknowledgement does."""

    def test_the_request(self, gateway: SMSOperatorGateway, backend: SMSOperatorBackend) -> None:
        """Header with type and credentials, one DataItem per message keyed by ``<prefix>-<id>``, UTF-8."""
        first, second = wire_message("Žluťoučký <&>"), wire_message("two", sender="ACME")
        outcomes = backend.publish([first, second])
        request = gateway.requests[0]
        assert request.headers["content-type"] == "text/xml; charset=utf-8"
        assert request.body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
        root = ET.fromstring(request.body)
        assert root.findtext("DataHeader/DataType") == "SMS"
        assert root.findtext("DataHeader/UserName") == "user"
        assert root.findtext("DataHeader/Password") == PASSWORD
        items = root.findall("DataArray/DataTemplate/DataItem")
        assert [(i.findtext("MobileTerminate"), i.findtext("Text"), i.findtext("SmsId")) for i in items] == [
            ("+420777123456", "Žluťoučký <&>", f"shop-2-{first.id}"),
            ("+420777123456", "two", f"shop-2-{second.id}"),
        ]
        assert items[0].find("PhoneNumberMo") is None
        assert items[1].findtext("PhoneNumberMo") == "ACME"
        assert [o.provider_ref for o in outcomes] == [f"shop-2-{first.id}", f"shop-2-{second.id}"]
        assert outcomes[0].extra_sender_data == {"prefix": "shop-2", "sender_state": 0}

    def test_status_0_on_a_send_is_accepted_not_delivered(
        self, gateway: SMSOperatorGateway, backend: SMSOperatorBackend
    ) -> None:
        """The acknowledgement is not a delivery report: status 0 means SENDING, DELIVERED comes from a check."""
        (outcome,) = backend.publish([wire_message()])
        assert outcome.state is SMSState.SENDING

    @pytest.mark.parametrize(
        ("code", "state"),
        [
            (0, SMSState.SENDING),
            (11, SMSState.SENDING),
            (14, SMSState.SENDING),
            (2, SMSState.ERROR),
            (4, SMSState.ERROR),
            (7, SMSState.ERROR),
            (10, SMSState.ERROR),
            (15, SMSState.UNKNOWN),
            (99, SMSState.UNKNOWN),
        ],
    )
    def test_acknowledgement_codes(
        self, gateway: SMSOperatorGateway, backend: SMSOperatorBackend, code: int, state: SMSState
    ) -> None:
        """Each status decides the message's state; the raw status is kept."""
        gateway.script(Reply(code=code))
        (outcome,) = backend.publish([wire_message()])
        assert outcome.state is state
        assert outcome.extra_sender_data["sender_state"] == code

    def test_big_batches_are_chunked(self, gateway: SMSOperatorGateway) -> None:
        """250 messages with at most 100 per request: three requests over one kept-alive connection."""
        with SMSOperatorBackend.from_options(options(gateway, max_batch_size="100")) as backend:
            outcomes = backend.publish([wire_message(f"m{i}") for i in range(250)])
        sizes = [len(ET.fromstring(r.body).findall("DataArray/DataTemplate/DataItem")) for r in gateway.requests]
        assert sizes == [100, 100, 50]
        assert len(outcomes) == 250
        assert all(o.state is SMSState.SENDING for o in outcomes)
        assert gateway.connections == 1

    def test_wrong_credentials_leave_messages_ambiguous(self, gateway: SMSOperatorGateway) -> None:
        """The protocol has no error code: an answer without any DataItem makes every message UNKNOWN, with a
        hint at the credentials (the delivery check and the idle timeout settle them)."""
        with SMSOperatorBackend.from_options(options(gateway, password="not-the-password")) as backend:
            outcomes = backend.publish([wire_message(), wire_message()])
        assert [o.state for o in outcomes] == [SMSState.UNKNOWN, SMSState.UNKNOWN]
        assert "wrong credentials?" in (outcomes[0].error or "")

    def test_omitted_and_foreign_ids(
        self, gateway: SMSOperatorGateway, backend: SMSOperatorBackend, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A message the answer omits is UNKNOWN alone; foreign ids are ignored and logged."""
        first, second = wire_message(), wire_message()
        answer = SMSOperatorGateway.document([(f"shop-2-{first.id}", 0), ("shop-9", 0), ("shop-2-0042", 1)])
        gateway.script(Reply(body=answer))
        with caplog.at_level(logging.WARNING, logger="providers.sms_operator"):
            outcomes = backend.publish([first, second])
        assert [o.state for o in outcomes] == [SMSState.SENDING, SMSState.UNKNOWN]
        assert "2 id(s) not asked for" in caplog.text


class TestFailures:
    """Network and HTTP failures become outcomes; nothing escapes."""

    @pytest.mark.parametrize(
        ("reply", "state"),
        [
            (Reply(status=503), SMSState.WAITING),
            (Reply(status=500), SMSState.WAITING),
            (Reply(status=429), SMSState.WAITING),
            (Reply(status=401), SMSState.ERROR),
            (Reply(status=403), SMSState.ERROR),
            (Reply(status=404), SMSState.ERROR),
            (Reply(delay=2.0), SMSState.UNKNOWN),
            (Reply(close=True), SMSState.UNKNOWN),
            (Reply(truncate=25), SMSState.UNKNOWN),
            (Reply(body=b"<SmsServices><DataArray><DataItem><SmsId>"), SMSState.UNKNOWN),
            (Reply(body=b'<!DOCTYPE a [<!ENTITY e "x">]><SmsServices>&e;</SmsServices>'), SMSState.UNKNOWN),
            (Reply(body=b""), SMSState.UNKNOWN),
        ],
        ids=lambda value: repr(value)[:60] if isinstance(value, Reply) else str(value),
    )
    def test_failures(
        self, gateway: SMSOperatorGateway, backend: SMSOperatorBackend, reply: Reply, state: SMSState
    ) -> None:
        """Each failure gives every message of the request the same, explained state."""
        gateway.script(reply)
        outcomes = backend.publish([wire_message(), wire_message()])
        assert [o.state for o in outcomes] == [state, state]
        assert all(o.error for o in outcomes)

    def test_connection_refused_is_transient(self) -> None:
        """Nobody listening: WAITING; a check raises (the service counts a failed request)."""
        opts = {"url": f"http://127.0.0.1:{free_port()}/", "username": "u", "password": PASSWORD}
        with SMSOperatorBackend.from_options(opts) as backend:
            (outcome,) = backend.publish([wire_message()])
            with pytest.raises(ProviderError, match="ConnectError"):
                backend.bulk_check_sms_states([wire_message()])
        assert outcome.state is SMSState.WAITING

    @pytest.mark.parametrize(
        ("exception", "state"),
        [
            (httpx.ConnectTimeout("connect timed out"), SMSState.WAITING),
            (httpx.PoolTimeout("no connection free"), SMSState.WAITING),
            (httpx.ReadTimeout("read timed out"), SMSState.UNKNOWN),
            (httpx.ReadError("connection reset by peer"), SMSState.UNKNOWN),
            (ValueError("defect"), SMSState.UNKNOWN),
        ],
        ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
    )
    def test_every_error_is_translated(self, exception: Exception, state: SMSState) -> None:
        """Errors from the transport (httpx's MockTransport seam) become outcomes; none escapes."""

        def fail(request: httpx.Request) -> httpx.Response:
            raise exception

        client = httpx.Client(transport=httpx.MockTransport(fail))
        with SMSOperatorBackend(client, username="u", password=PASSWORD) as backend:
            (outcome,) = backend.publish([wire_message()])
            with pytest.raises(ProviderError, match="delivery check failed"):
                backend.bulk_check_sms_states([wire_message()])
        assert outcome.state is state


class TestStatusChecks:
    """``SMS-Status`` requests and what their answers do."""

    def test_the_status_request(self, gateway: SMSOperatorGateway, backend: SMSOperatorBackend) -> None:
        """DataType SMS-Status and one bare SmsId per message."""
        messages = [wire_message(), wire_message()]
        backend.bulk_check_sms_states(messages)
        root = ET.fromstring(gateway.requests[0].body)
        assert root.findtext("DataHeader/DataType") == "SMS-Status"
        assert [e.text for e in root.findall("DataArray/SmsId")] == [f"shop-2-{m.id}" for m in messages]

    @pytest.mark.parametrize(
        ("code", "state"),
        [
            (0, SMSState.DELIVERED),
            (1, SMSState.ERROR),
            (2, SMSState.ERROR),
            (10, SMSState.ERROR),
            (11, SMSState.SENDING),
            (13, SMSState.SENDING),
            (15, SMSState.ERROR),
            (77, SMSState.SENDING),
        ],
    )
    def test_status_codes(
        self, gateway: SMSOperatorGateway, backend: SMSOperatorBackend, code: int, state: SMSState
    ) -> None:
        """A SENDING message moves as the status says, or stays put with the raw status kept."""
        message = wire_message()
        backend.publish([message])
        gateway.set_state(f"shop-2-{message.id}", code)
        (report,) = backend.bulk_check_sms_states([attrs.evolve(message, state=SMSState.SENDING)])
        assert report is not None
        assert report.state is state
        assert report.extra_sender_data["sender_state"] == code

    def test_not_found_sends_an_unknown_message_back_to_waiting(self, backend: SMSOperatorBackend) -> None:
        """Status 15 for a message UNKNOWN for longer than the grace period: never received, WAITING."""
        long_ago = datetime.now(UTC) - timedelta(minutes=2)
        (report,) = backend.bulk_check_sms_states([wire_message(state=SMSState.UNKNOWN, changed_at=long_ago)])
        assert report is not None
        assert report.state is SMSState.WAITING

    @pytest.mark.parametrize(
        "reply", [Reply(status=503), Reply(delay=2.0), Reply(body=b"<x")], ids=["503", "slow", "bad"]
    )
    def test_a_check_that_gets_no_answer_raises(
        self, gateway: SMSOperatorGateway, backend: SMSOperatorBackend, reply: Reply
    ) -> None:
        """A check whose only request fails raises ProviderError (the service counts a failed request) rather
        than answering "nothing new"."""
        gateway.script(reply)
        with pytest.raises(ProviderError, match="delivery check failed"):
            backend.bulk_check_sms_states([wire_message()])


class TestOptions:
    """``from_options``: required options, coercion, refusals keyed by the option's name."""

    @pytest.mark.parametrize("name", ["username", "password"])
    def test_a_missing_required_option_is_named(self, gateway: SMSOperatorGateway, name: str) -> None:
        """A missing required option raises ConfigurationError keyed by its name."""
        opts = options(gateway)
        del opts[name]
        with pytest.raises(ConfigurationError) as caught:
            SMSOperatorBackend.from_options(opts)
        assert caught.value.key == name

    @pytest.mark.parametrize(
        ("name", "value"),
        [
            ("timeout", "-1"),
            ("max_batch_size", "many"),
            ("url", "file:///etc"),
            ("uniq_prefix", "a\x00"),
            ("optid", "1"),
        ],
    )
    def test_bad_values_are_refused_by_name(self, gateway: SMSOperatorGateway, name: str, value: str) -> None:
        """A wrong value or an option this backend does not have raises ConfigurationError keyed by the name."""
        with pytest.raises(ConfigurationError) as caught:
            SMSOperatorBackend.from_options(options(gateway, **{name: value}))
        assert caught.value.key == name

    def test_defaults(self) -> None:
        """The default URL is the documented HTTPS one; 100 messages per request."""
        with SMSOperatorBackend.from_options({"username": "u", "password": "p"}) as backend:
            assert backend.url == DEFAULT_URL
            assert backend.max_batch_size == 100
            assert backend.client.timeout == httpx.Timeout(5.0)
        assert DEFAULT_URL.startswith("https://")

    def test_close_closes_the_client(self, gateway: SMSOperatorGateway) -> None:
        """``close`` releases the HTTP client."""
        backend = SMSOperatorBackend.from_options(options(gateway))
        backend.close()
        assert backend.client.is_closed


class TestCredentials:
    """The password appears nowhere but in the request body."""

    def test_the_password_never_leaks(self, gateway: SMSOperatorGateway, caplog: pytest.LogCaptureFixture) -> None:
        """Through every failure path: no outcome string, repr or log record (at DEBUG) holds the password."""
        caplog.set_level(logging.DEBUG)
        escaped = b"op-S3cr3t&lt;&amp;&gt;\"'"
        replies = [
            Reply(),
            Reply(code=4),
            Reply(code=99),
            Reply(status=500, body=PASSWORD.encode()),
            Reply(status=401),
            Reply(delay=2.0),
            Reply(close=True),
            Reply(truncate=10),
            Reply(body=b"<SmsServices><Password>" + escaped + b"</Password></SmsServices>"),
            Reply(
                body=b"<SmsServices><DataItem><SmsId>"
                + escaped
                + b"</SmsId><Status>0</Status></DataItem></SmsServices>"
            ),
            Reply(
                body=b"<SmsServices><DataItem><SmsId>shop-2-1</SmsId><Status>"
                + escaped
                + b"</Status></DataItem></SmsServices>"
            ),
            Reply(body=b"<SmsServices><Password>" + PASSWORD.encode() + b"</Password>"),
        ]
        texts: list[str] = []
        with SMSOperatorBackend.from_options(options(gateway)) as backend:
            texts.append(repr(backend))
            for reply in replies:
                gateway.script(reply, reply)
                results: list[Outcome | None] = [*backend.publish([wire_message(id=1)])]
                try:
                    results.extend(backend.bulk_check_sms_states([wire_message(id=1)]))
                except ProviderError as exc:
                    texts.append(str(exc))
                texts.extend(repr(result) for result in results)
        with SMSOperatorBackend.from_options(options(gateway, password="x" + PASSWORD)) as backend:
            texts.extend(repr(o) for o in backend.publish([wire_message()]))
        texts.extend(record.getMessage() for record in caplog.records)
        texts.append(caplog.text)
        for text in texts:
            for form in PASSWORD_FORMS:
                assert form not in text, text


class TestEndToEnd:
    """Through ``smscore.build_service`` with the ``sms-operator`` alias."""

    def test_send_then_check_delivery(self, gateway: SMSOperatorGateway) -> None:
        """send -> SENDING, check_delivery -> DELIVERED."""
        config = {"provider": "sms-operator", "provider_options": options(gateway)}
        with smscore.build_service(config) as service:
            message = service.send("+420777123456", "Kód 1234")
            assert message.state is SMSState.SENDING
            assert gateway.received[0].text == "Kod 1234"
            service.check_delivery()
            assert service.messages.get(message.id or 0).state is SMSState.DELIVERED
