"""The I/O half both XML gateways (ATS, SMS-operator) share: their common options, chunking, one POST per chunk
through a kept ``httpx.Client`` (or, for the asyncio service, an ``httpx.AsyncClient``), answers mapped through the
gateway's wire object and code table, and secrets scrubbed from everything that leaves. The pure half is
:mod:`providers._gateway_wire`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Required, Self, TypeAlias, TypedDict, TypeVar, Unpack

import attrs
import httpx

from providers._gateway_wire import (
    MAX_RAW_CODE,
    Answer,
    GatewayWire,
    Prefix,
    check_outcomes,
    check_prefix,
    failure_outcomes,
    make_uniq,
    send_outcomes,
    shown_code,
)
from providers._http import Failure, FailureKind, Redactor, apost_xml, build_async_client, build_client, post_xml
from providers._steps import Steps, adrive, drive
from providers._urls import check_url, safe_url
from providers._xml import MAX_RESPONSE_BYTES
from providers.base import SMSBackend, without_secrets
from providers.options import URL, Integer, Option, OptionSpec, Seconds, Text
from smscore import Outcome, SMSMessage
from smscore.errors import ProviderError

__all__ = ["GatewayOptions", "XMLGatewayBackend", "gateway_options"]


def gateway_options(provider: str, default_url: str, *own: Option) -> OptionSpec:
    """The options of an XML gateway: the credentials, the gateway's ``own`` options, then what every XML
    gateway backend takes (address, id prefix, deadline, batch size, grace of "not found")."""
    return OptionSpec(
        provider,
        Option("username", Text(), required=True, description="account name (sent inside the XML body)"),
        Option(
            "password",
            Text(),
            required=True,
            secret=True,
            description="account password (sent inside the XML body; never logged or shown)",
        ),
        *own,
        Option("url", URL(), default=default_url, description="gateway address"),
        Option(
            "uniq_prefix",
            Prefix(),
            default="",
            description="our id on the wire is ``<prefix>-<message id>`` (just the id when empty); use one prefix "
            "per application sharing an account",
        ),
        Option(
            "timeout",
            Seconds(),
            default=5.0,
            description="seconds one whole request may take: waiting for a connection, connecting, sending and "
            "reading the whole answer (a gateway that trickles its answer leaves the messages UNKNOWN then)",
        ),
        Option(
            "max_batch_size",
            Integer(1, 10_000),
            default=100,
            description="most messages per request (publishing and delivery checks)",
        ),
        Option(
            "not_found_grace",
            Seconds(allow_zero=True),
            default=60.0,
            description='seconds a message must have been UNKNOWN before "not found" sends it back to WAITING: '
            "a request that timed out may still be processed",
        ),
    )


_R = TypeVar("_R")
#: Requests to make: each yields a request body and is sent back the answer's bytes (or the request's Failure).
_Steps: TypeAlias = Steps[bytes, "bytes | Failure", _R]


def _chunks(items: Sequence[int], size: int) -> list[Sequence[int]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


class _Limits(TypedDict):
    timeout: float
    max_response_bytes: int


class GatewayOptions(TypedDict, total=False):
    """The keyword arguments of every XML gateway backend (see :func:`gateway_options` for what each means)."""

    username: Required[str]
    password: Required[str]
    url: str
    uniq_prefix: str
    max_batch_size: int
    not_found_grace: float
    timeout: float
    max_response_bytes: int


class XMLGatewayBackend(SMSBackend):
    """The I/O half shared by the ATS and SMS-operator backends: chunking, one POST per chunk through a shared
    ``httpx.Client``, answers mapped through the wire and the code table, secrets scrubbed from everything that
    leaves. ``publish`` and ``bulk_check_sms_states`` never raise. ``timeout`` is each request's whole deadline
    when the client comes from :func:`providers._http.build_client` (as :meth:`from_options` builds it); another
    client bounds each read and write by its own timeouts only.

    ``publish`` and ``bulk_check_sms_states`` never raise: every failure is an outcome. The client is used for
    every request (keep-alive) and closed by :meth:`close`; :meth:`from_options` builds one.
    """

    can_check_by_our_id = True
    log: ClassVar[logging.Logger] = logging.getLogger(__name__)
    option_spec: ClassVar[OptionSpec]
    #: Where requests go when no ``url`` is given.
    default_url: ClassVar[str]

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Self:
        """Build the backend and its own ``httpx.Client`` from options (see :attr:`option_spec`).

        Raises :class:`~smscore.errors.ConfigurationError` keyed by the option's name for a missing required
        option, a value of the wrong type (strings such as ``"60"`` are converted) or an unknown option.
        """
        settings = cls.option_spec.read(options)
        return cls(build_client(timeout=settings["timeout"]), **settings)

    def __init__(self, client: httpx.Client, **options: Unpack[GatewayOptions]) -> None:
        max_batch_size = options.get("max_batch_size", 100)
        not_found_grace = options.get("not_found_grace", 60.0)
        if max_batch_size < 1:
            raise ValueError("max_batch_size must be at least 1")
        if not_found_grace < 0:
            raise ValueError("not_found_grace must not be negative")
        self._not_found_grace = timedelta(seconds=not_found_grace)
        self._client = client
        self._async_client: httpx.AsyncClient | None = None
        self._wire = self._make_wire(
            options["username"], options["password"], check_prefix(options.get("uniq_prefix", ""))
        )
        self._url = check_url(options.get("url", self.default_url))
        # What logs and the repr may show of the URL (no credentials, no query); computed once.
        self._shown_url = safe_url(self._url)
        self._max_batch_size = max_batch_size
        self._timeout = options.get("timeout", 5.0)
        self._limits = _Limits(
            timeout=self._timeout, max_response_bytes=options.get("max_response_bytes", MAX_RESPONSE_BYTES)
        )
        self._redact = Redactor(self._wire.secrets())

    def _make_wire(self, username: str, password: str, prefix: str) -> GatewayWire:
        """The gateway's wire object for these credentials and id prefix (each gateway's own)."""
        raise NotImplementedError

    @property
    def max_batch_size(self) -> int:  # type: ignore[override]  # a class constant in the base, per instance here
        """Most messages in one request to the gateway (``max_batch_size`` option)."""
        return self._max_batch_size

    @property
    def url(self) -> str:
        """Where requests go."""
        return self._url

    @property
    def client(self) -> httpx.Client:
        """The ``httpx.Client`` every request goes through."""
        return self._client

    def close(self) -> None:
        """Close the HTTP client (and its pooled connections)."""
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} url={self._shown_url!r} prefix={self._redact(self._wire.prefix)!r}>"

    # -- the provider port -------------------------------------------------------------------------------

    def publish_message(self, message: SMSMessage) -> Outcome:
        """Send one message (one request)."""
        return self.publish_messages([message])[0]

    def publish_messages(self, messages: Sequence[SMSMessage]) -> list[Outcome]:
        """Send ``messages`` in requests of at most :attr:`max_batch_size`; one outcome per message, in order."""
        return drive(self._publishing(messages), self._post)

    def bulk_check_sms_states(self, messages: Sequence[SMSMessage]) -> list[Outcome | None]:
        """Ask the gateway about ``messages`` (one delivery-report request per :attr:`max_batch_size`); one
        report per message, in order, ``None`` where there is nothing new or its request failed.

        When not a single request got an answer, :class:`~smscore.errors.ProviderError` is raised, so that the
        service counts the failure (``DeliveryCheckReport.failed_chunks``) instead of taking it for silence.
        """
        return drive(self._checking(messages), self._post)

    # -- the asyncio roles (smscore.async_ports) ---------------------------------------------------------

    async def apublish(self, messages: Sequence[SMSMessage]) -> list[Outcome]:
        """:meth:`publish` on the event loop, through the backend's ``httpx.AsyncClient``: the same requests,
        outcomes and deadlines. ``CancelledError`` propagates (the request in flight is abandoned: its messages
        keep the state the service gave them before publishing)."""
        return await adrive(self._publishing(messages), self._apost)

    async def abulk_check_sms_states(self, messages: Sequence[SMSMessage]) -> list[Outcome | None]:
        """:meth:`bulk_check_sms_states` on the event loop (raising as it does)."""
        return await adrive(self._checking(messages), self._apost)

    async def aclose(self) -> None:
        """Close the ``httpx.AsyncClient`` (built at the first asyncio call, in the loop that made it); calling
        it again, or before any asyncio call, does nothing. :meth:`close` closes the sync client."""
        client, self._async_client = self._async_client, None
        if client is not None:
            await client.aclose()

    # -- the requests, apart from how they are sent ------------------------------------------------------
    # Each of these generators yields a request body and is sent back the gateway's answer to it (its bytes, or
    # the Failure of the request): every decision is made here once; _post and _apost only carry bodies.

    def _post(self, body: bytes) -> bytes | Failure:
        return post_xml(self._client, self._url, body, **self._limits)

    async def _apost(self, body: bytes) -> bytes | Failure:
        # Built at the first asyncio call, in the running loop whose task makes the request.
        if self._async_client is None:
            self._async_client = build_async_client(timeout=self._timeout)
        return await apost_xml(self._async_client, self._url, body, **self._limits)

    def _publishing(self, messages: Sequence[SMSMessage]) -> _Steps[list[Outcome]]:
        outcomes: list[Outcome | None] = [None] * len(messages)
        sendable = []
        for index, message in enumerate(messages):
            if message.id is None or message.id < 0:
                outcomes[index] = Outcome.rejected("message has no id: store it before publishing")
            else:
                sendable.append(index)
        for chunk in _chunks(sendable, self._max_batch_size):
            batch = [messages[index] for index in chunk]
            results = yield from self._guarded(self._publish_chunk(batch), "publishing", batch)
            if isinstance(results, Exception):
                # The request may have left: never re-send blindly.
                failure = Failure(FailureKind.AMBIGUOUS, f"unexpected {type(results).__name__} while publishing")
                results = failure_outcomes(failure, batch, prefix=self._wire.prefix)
            for index, outcome in zip(chunk, results, strict=True):
                outcomes[index] = self._scrub(outcome)
        return [outcome for outcome in outcomes if outcome is not None]

    def _checking(self, messages: Sequence[SMSMessage]) -> _Steps[list[Outcome | None]]:
        reports: list[Outcome | None] = [None] * len(messages)
        checkable = [index for index, message in enumerate(messages) if message.id is not None and message.id >= 0]
        answered = 0
        failure: str | None = None
        for chunk in _chunks(checkable, self._max_batch_size):
            batch = [messages[index] for index in chunk]
            results = yield from self._guarded(self._check_chunk(batch), "delivery check of", batch)
            if isinstance(results, Exception):
                failure = f"unexpected {type(results).__name__}"
                continue
            if isinstance(results, Failure):
                failure = results.reason
                continue
            answered += 1
            for index, report in zip(chunk, results, strict=True):
                reports[index] = self._scrub(report) if report is not None else None
        if failure is not None and answered == 0:
            raise ProviderError(f"{self._wire.table.name} delivery check failed: {failure}")
        return reports

    def _guarded(self, steps: _Steps[_R], what: str, batch: Sequence[SMSMessage]) -> _Steps[_R | Exception]:
        """What ``steps`` gave for one chunk, or the exception it raised: a defect of ours, not the gateway's,
        logged here."""
        try:
            return (yield from steps)
        except Exception as exc:
            self._log(logging.ERROR, "%s %d message(s) failed unexpectedly: %r", what, len(batch), exc)
            return exc

    def _exchange(self, body: bytes, what: str, messages: Sequence[SMSMessage]) -> _Steps[Answer | Failure]:
        name, count = self._wire.table.name, len(messages)
        self._log(logging.DEBUG, "%s: POST %s of %d message(s) to %s", name, what, count, self._shown_url)
        reply = yield body
        if isinstance(reply, Failure):
            self._log(logging.WARNING, "%s %s of %d message(s) failed: %s", name, what, count, reply.reason)
            return reply
        try:
            answer = self._wire.parse_answer(reply)
        except ProviderError as exc:
            self._log(logging.WARNING, "%s answered a %s with an unusable document: %s", name, what, exc)
            return Failure(FailureKind.AMBIGUOUS, f"{name} answered with an unusable document: {exc}")
        # Scrub before anything is cut or shown: a gateway may echo the request, password included.
        answer = attrs.evolve(
            answer,
            codes={key: self._redact(raw) for key, raw in answer.codes.items()},
            foreign=tuple(self._redact(uniq) for uniq in answer.foreign),
            request_codes=tuple(self._redact(raw) for raw in answer.request_codes),
        )
        asked = {message.id for message in messages}
        unasked = [*answer.foreign, *(make_uniq(self._wire.prefix, i) for i in answer.codes if i not in asked)]
        if unasked:
            shown = ", ".join(repr(uniq[:MAX_RAW_CODE]) for uniq in unasked[:10])
            self._log(
                logging.WARNING, "%s answered about %d id(s) not asked for, ignored: %s", name, len(unasked), shown
            )
        missing = sum(1 for message in messages if message.id not in answer.codes)
        if missing and not answer.request_codes:
            self._log(logging.WARNING, "%s answered no status for %d of %d message(s)", name, missing, count)
        if answer.conflicting:
            conflicting = sorted(answer.conflicting)
            self._log(logging.WARNING, "%s answered contradicting codes for message id(s) %s", name, conflicting)
        if answer.request_codes:
            codes = list(answer.request_codes)
            self._log(logging.WARNING, "%s answered the whole %s with code(s) %s", name, what, codes)
        return answer

    def _publish_chunk(self, messages: Sequence[SMSMessage]) -> _Steps[list[Outcome]]:
        result = yield from self._exchange(self._wire.send_request(messages), "send request", messages)
        if isinstance(result, Failure):
            return failure_outcomes(result, messages, prefix=self._wire.prefix)
        return send_outcomes(
            self._wire.table, messages, result, prefix=self._wire.prefix, extra=self._wire.send_extra()
        )

    def _check_chunk(self, messages: Sequence[SMSMessage]) -> _Steps[list[Outcome | None] | Failure]:
        """The reports of one delivery-report request, or the failure of the request as a whole."""
        result = yield from self._exchange(self._wire.check_request(messages), "delivery check", messages)
        if isinstance(result, Failure):
            return result
        if result.request_codes and not result.codes:
            codes = ", ".join(shown_code(code) for code in result.request_codes)
            return Failure(FailureKind.REJECTED, f"the gateway refused the whole request: code(s) {codes}")
        return check_outcomes(self._wire.table, messages, result, now=datetime.now(UTC), grace=self._not_found_grace)

    # -- keeping secrets ---------------------------------------------------------------------------------

    def _log(self, level: int, template: str, *args: object) -> None:
        if self.log.isEnabledFor(level):
            self.log.log(level, "%s", self._redact(template % args))

    def _scrub(self, outcome: Outcome) -> Outcome:
        return without_secrets(outcome, self._redact.forms)
