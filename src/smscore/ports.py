"""The ports: what the core needs from storage, providers and time, as small Protocols named by role.

Adapters implement them (``adapters_sqlalchemy``, ``adapters_django``, ``providers``); ``smscore.testing``
ships in-memory fakes that pass the same contract suites. Optional roles are declared here too, and found with
``isinstance``: :class:`DeliveryChecker`, :class:`StatusCallbackReceiver`, :class:`InboundReceiver` and
:class:`OptOutSource` of a provider, :class:`OptOutScreening` of a message repository,
:class:`SchemaManager` of a storage factory. :class:`~smscore.templates.TemplateRenderer` (rendering and validating template bodies) is
defined next to the templates it renders and named here with the other ports. Every repository method is atomic on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

import attrs

from smscore.config import SMSConfig
from smscore.guards import OptOut, RecipientLimit
from smscore.inbound import InboundQuery, InboundReport, InboundSMS, WebhookRequest
from smscore.message import SMSMessage
from smscore.outcome import Outcome
from smscore.query import MessageQuery
from smscore.states import SMSState
from smscore.templates import SMSTemplate, TemplateRenderer

__all__ = [
    "CallbackReport",
    "Clock",
    "DeliveryChecker",
    "InboundReceiver",
    "InboundRepository",
    "MessageRepository",
    "OptOutRepository",
    "OptOutScreening",
    "OptOutSource",
    "ProviderFactory",
    "RateLimiter",
    "RefusalCounter",
    "SMSProvider",
    "SchemaManager",
    "ScreenedOut",
    "StatusCallbackReceiver",
    "StatusCallbackSender",
    "Storage",
    "StorageFactory",
    "TemplateRenderer",
    "TemplateRepository",
    "check_new_batch",
    "check_reservation",
]


class Clock(Protocol):
    """Tells the time. ``now()`` returns a timezone-aware datetime."""

    def now(self) -> datetime: ...


class MessageRepository(Protocol):
    """Durable record of messages.

    Ids are integers assigned by :meth:`add`. Every write bumps ``version``; :meth:`save` writes only if the
    stored version still equals the message's (compare-and-set) and raises
    :class:`~smscore.errors.ConcurrentUpdateError` otherwise. Datetimes come back timezone-aware (UTC).
    :meth:`save` writes the fields that change over a message's life (:data:`smscore.message.MUTABLE_FIELDS`);
    the rest, related objects included, are written once by :meth:`add` and left as stored, so a save touches no
    index of a fixed column and costs no read.
    """

    def add(self, message: SMSMessage) -> SMSMessage:
        """Store a new message (its ``id`` must be None) and return it with its id.

        Raises :class:`~smscore.errors.DuplicateIdempotencyKeyError` (carrying the stored message) when another
        message holds the same idempotency key; uniqueness is enforced by the store, not by a prior read.
        """
        ...

    def add_many(self, messages: Sequence[SMSMessage]) -> list[SMSMessage]:
        """Store new messages in one transaction, in order; all or none. Same errors as :meth:`add`."""
        ...

    def get(self, message_id: int) -> SMSMessage:
        """The message with ``message_id``. Raises :class:`~smscore.errors.MessageNotFoundError`."""
        ...

    def save(self, message: SMSMessage) -> SMSMessage:
        """Write a changed message (compare-and-set on ``version``) and return it with the new version.

        Raises :class:`~smscore.errors.MessageNotFoundError` or :class:`~smscore.errors.ConcurrentUpdateError`.
        """
        ...

    def save_many(self, messages: Sequence[SMSMessage]) -> list[SMSMessage]:
        """:meth:`save` for many messages in one transaction: on any conflict nothing is written and
        :class:`~smscore.errors.ConcurrentUpdateError` names the conflicting ids."""
        ...

    def fetch(self, query: MessageQuery) -> list[SMSMessage]:
        """The messages matching ``query``, in its order and up to its limit (one query per call, however large
        the table, when the filters follow an index: keyset paging with ``after_id``)."""
        ...

    def tally(self, query: MessageQuery) -> int:
        """How many messages match ``query`` (its limit and order aside), counted without reading a row."""
        ...

    # The readings below are written once, on the port, in terms of fetch and tally: an adapter that subclasses
    # the port inherits them; one that only matches it structurally writes them itself.

    def find(
        self,
        state: SMSState | None = None,
        tag: str | None = None,
        recipient: str | None = None,
        limit: int | None = None,
        *,
        provider: str | None = None,
    ) -> list[SMSMessage]:
        """Messages matching every given filter, newest first (highest id first)."""
        states = None if state is None else {state}
        return self.fetch(
            MessageQuery(states=states, tag=tag, recipient=recipient, provider=provider, limit=limit, newest_first=True)
        )

    def count(
        self,
        state: SMSState | None = None,
        *,
        provider: str | None = None,
        changed_before: datetime | None = None,
        sent_after: datetime | None = None,
    ) -> int:
        """How many messages match every filter given: ``changed_before`` on ``changed_at`` (exclusive, as
        :meth:`purge` reads it), ``sent_after`` on ``sent_at`` (inclusive, as :meth:`scan` reads it).

        What a purge or a scan would reach, counted without reading a row: the dry run of a purge and the total
        of a delivery check's progress."""
        states = None if state is None else {state}
        return self.tally(
            MessageQuery(states=states, provider=provider, changed_before=changed_before, sent_after=sent_after)
        )

    def scan(
        self,
        *,
        states: Collection[SMSState],
        limit: int,
        after_id: int = 0,
        provider: str | None = None,
        sent_before: datetime | None = None,
        sent_after: datetime | None = None,
    ) -> list[SMSMessage]:
        """Up to ``limit`` messages in ``states`` with ``id > after_id``, in ascending id order (keyset paging:
        one query per page however large the table). ``sent_before`` / ``sent_after`` filter on ``sent_at``
        (exclusive / inclusive)."""
        return self.fetch(
            MessageQuery(
                states=states,
                limit=limit,
                after_id=after_id,
                provider=provider,
                sent_before=sent_before,
                sent_after=sent_after,
            )
        )

    def stats(self) -> dict[tuple[str | None, SMSState], int]:
        """Message counts per (provider name, state); combinations with no message are left out."""
        ...

    def get_by_idempotency_key(self, key: str) -> SMSMessage | None:
        """The message holding ``key``, if any."""
        ...

    def get_by_provider_ref(self, provider_ref: str, *, provider: str | None = None) -> SMSMessage | None:
        """The message the provider knows as ``provider_ref`` (optionally only for one provider name)."""
        ...

    def claim(self, *, now: datetime, lease_until: datetime, limit: int) -> list[SMSMessage]:
        """Atomically take up to ``limit`` due messages for publishing and return them leased.

        Due means WAITING, no lease, and ``next_attempt_at`` not after ``now`` (a message without one is never
        due: every message the core writes has one); taken in priority order (1 first), then due time (earliest
        ``next_attempt_at`` first), then age (lowest id first). A backlog of messages due later must not slow it. Each taken message gets ``lease_expires_at = lease_until`` and a new
        version. Concurrent callers never receive the same message (``FOR UPDATE SKIP LOCKED`` or equivalent).
        """
        ...

    def find_expired_leases(self, *, now: datetime, limit: int) -> list[SMSMessage]:
        """WAITING messages whose lease ended before ``now``: a worker died while holding them."""
        ...

    def purge(self, *, states: Collection[SMSState], changed_before: datetime, limit: int) -> int:
        """Delete up to ``limit`` messages in ``states`` last changed before ``changed_before``; return how many."""
        ...

    def add_within_limits(
        self, messages: Sequence[SMSMessage], limits: Mapping[str, RecipientLimit]
    ) -> list[SMSMessage | None]:
        """:meth:`add_many` for the messages that stay within ``limits`` (by tag); one entry per message, in
        order: the stored message, or None for one refused (nothing stored for it).

        A message whose tag has a limit is stored only while fewer than ``count`` messages with its recipient and
        tag (in any state) were created after its ``created_at`` minus ``per``; the call's earlier messages count
        too. The count and the insert run in one transaction that holds a lock per (recipient, tag), so callers in
        any number of processes together never store more than the limit. Same errors as :meth:`add_many`.
        """
        ...


class OptOutRepository(Protocol):
    """The numbers that get no SMS, one :class:`~smscore.guards.OptOut` per E.164 number (callers normalise).

    An opt-out is kept as first recorded: adding a number that is on the list again changes nothing.
    """

    def add(self, opt_out: OptOut) -> OptOut:
        """Put the number on the list; return the stored entry (the earlier one when it was already there)."""
        ...

    def add_many(self, opt_outs: Iterable[OptOut]) -> int:
        """:meth:`add` for many numbers, in one transaction per bounded chunk; return how many were new."""
        ...

    def remove(self, recipient: str) -> OptOut | None:
        """Take the number off the list; return the entry removed, or None when it was not there."""
        ...

    def get(self, recipient: str) -> OptOut | None:
        """The entry of the number, if it is on the list."""
        ...

    def contains(self, recipient: str) -> bool:
        """Whether the number is on the list."""
        ...

    def among(self, recipients: Collection[str]) -> set[str]:
        """Those of ``recipients`` that are on the list (one query per bounded chunk)."""
        ...

    def list(self, *, limit: int | None = None, after: str | None = None) -> list[OptOut]:
        """Entries ordered by number, those after ``after`` only (keyset paging), at most ``limit``."""
        ...

    def count(self) -> int:
        """How many numbers are on the list."""
        ...


#: Why :meth:`OptOutScreening.add_screened` left a message out (the ``reason`` of the matching refusal).
ScreenedOut = Literal["opted_out", "rate_limited"]


@runtime_checkable
class OptOutScreening(Protocol):
    """The optional role of a message repository that checks the opt-out list in the step that stores messages.

    Asked apart, an opt-out recorded between the look-up and the insert is missed, and a send makes one more trip
    to the storage. A repository with this role does both at once; the service uses it for the opt-out list it was
    given when :meth:`screens` says the two share a storage, and asks the list itself otherwise.
    """

    def screens(self, opt_outs: OptOutRepository) -> bool:
        """Whether :meth:`add_screened` checks the list that ``opt_outs`` keeps (the two share one storage)."""
        ...

    def add_screened(
        self, messages: Sequence[SMSMessage], screened: Sequence[bool], limits: Mapping[str, RecipientLimit]
    ) -> list[SMSMessage | ScreenedOut]:
        """:meth:`MessageRepository.add_within_limits`, where a message whose entry in ``screened`` is true is
        left out when its recipient is on the opt-out list, checked in the same atomic step as its insert.

        One entry per message, in order: the stored message, or why it was left out (``"opted_out"`` before
        ``"rate_limited"``: a message left out as opted out counts toward no limit). Raises ``ValueError`` when
        ``screened`` and ``messages`` differ in length; otherwise the errors of :meth:`MessageRepository.add_many`.
        """
        ...


class InboundRepository(Protocol):
    """The SMS received (:class:`~smscore.inbound.InboundSMS`), one per provider name and provider reference.

    Ids are integers assigned by :meth:`add`; datetimes come back timezone-aware (UTC).
    """

    def add(self, sms: InboundSMS) -> InboundSMS:
        """Store a new inbound SMS (its ``id`` must be None) and return it with its id.

        Raises :class:`~smscore.errors.DuplicateInboundError` (carrying the stored one) when one of the same
        provider and ``provider_ref`` is stored; enforced by the store, so of concurrent adds exactly one stores.
        """
        ...

    def get(self, inbound_id: int) -> InboundSMS:
        """The inbound SMS with ``inbound_id``. Raises :class:`~smscore.errors.InboundNotFoundError`."""
        ...

    def find(self, query: InboundQuery) -> list[InboundSMS]:
        """Those matching ``query``, newest first, up to its limit."""
        ...

    def count(self, query: InboundQuery) -> int:
        """How many match ``query`` (its limit aside)."""
        ...


class RefusalCounter(Protocol):
    """How many messages the guards refused, per (reason, tag), shared by every process using the storage."""

    def add(self, counts: Mapping[tuple[str, str | None], int]) -> None:
        """Add ``counts`` (by reason and tag) to the totals, atomically."""
        ...

    def totals(self) -> dict[tuple[str, str | None], int]:
        """The totals so far; pairs never refused are left out."""
        ...


class TemplateRepository(Protocol):
    """Stored templates, by slug."""

    def get(self, slug: str) -> SMSTemplate:
        """The template with ``slug``. Raises :class:`~smscore.errors.TemplateNotFoundError`."""
        ...

    def save(self, template: SMSTemplate) -> SMSTemplate:
        """Insert or replace the template with this slug; return it with its timestamps set.

        Raises :class:`~smscore.errors.TemplateRenderError`, storing nothing, when the body does not compile in
        the template language of the storage's templates.
        """
        ...

    def delete(self, slug: str) -> None:
        """Remove the template. Raises :class:`~smscore.errors.TemplateNotFoundError` when there is none."""
        ...

    def list(self) -> list[SMSTemplate]:
        """Every template, by slug."""
        ...


@runtime_checkable
class SMSProvider(Protocol):
    """Hands messages to an SMS service.

    ``publish`` returns exactly one :class:`~smscore.outcome.Outcome` per message, in order, and never raises
    for anything the service or the network did (those are outcomes). ``max_batch_size`` is the most messages
    one call accepts. ``can_check_by_our_id`` says whether the service can be asked about a message by our own
    id, even if we never learned its reference (decides what happens after a crash mid-publish). ``close``
    releases what the provider holds (network clients, pooled connections); calling it again does nothing.
    """

    max_batch_size: int
    can_check_by_our_id: bool

    def publish(self, messages: Sequence[SMSMessage]) -> list[Outcome]: ...

    def close(self) -> None: ...


@runtime_checkable
class ProviderFactory(Protocol):
    """How a provider class configured by dotted path is built from its options: ``from_options(options)``
    checks them (raising :class:`~smscore.errors.ConfigurationError` keyed by the option) and returns the
    provider. A class without it is called with the options as keyword arguments."""

    def from_options(self, options: Mapping[str, Any]) -> SMSProvider: ...


@runtime_checkable
class StatusCallbackSender(Protocol):
    """Optional role of a provider class: its provider pushes status reports to a URL given when it is built.

    ``status_callback_option`` names the option that carries the URL; when the configuration sets
    ``public_base_url`` and leaves that option empty, the composition root fills it in
    (``<public_base_url>/status/<provider name>/``).
    """

    status_callback_option: str


@runtime_checkable
class DeliveryChecker(Protocol):
    """Optional role of a provider: report what became of messages it accepted.

    Returns one entry per message, in order: an :class:`~smscore.outcome.Outcome` with the current state, or
    ``None`` when there is nothing new. An Outcome in WAITING means the provider never received the message.
    When the provider could not be asked at all (unreachable, credentials refused), it raises: the service
    counts the chunk in ``DeliveryCheckReport.failed_chunks`` and changes nothing.
    """

    def bulk_check_sms_states(self, messages: Sequence[SMSMessage]) -> list[Outcome | None]: ...


@attrs.frozen
class CallbackReport:
    """What a verified status callback says: which message (by the provider's reference) and its news."""

    provider_ref: str
    outcome: Outcome


@runtime_checkable
class StatusCallbackReceiver(Protocol):
    """Optional role of a provider: understand the status reports it pushes (webhooks).

    ``parse_status_callback`` verifies the request's signature first and raises
    :class:`~smscore.errors.InvalidSignatureError` when it does not verify, or
    :class:`~smscore.errors.CallbackError` when the request is not a status report. ``url`` is the full URL the
    request was made to (as the provider saw it), ``params`` the form parameters, ``headers`` the request headers
    (any case).
    """

    def parse_status_callback(
        self, url: str, params: Mapping[str, str | Sequence[str]], headers: Mapping[str, str]
    ) -> CallbackReport: ...


@runtime_checkable
class InboundReceiver(Protocol):
    """Optional role of a provider: understand the SMS people send to our numbers, pushed by the provider.

    ``parse_inbound`` verifies the request first and raises :class:`~smscore.errors.InvalidSignatureError` when it
    does not verify, :class:`~smscore.errors.CallbackError` when it carries no usable message. It returns the
    message, or None for a request that carries none and needed no more than the provider did (a subscription
    confirmed).
    """

    def parse_inbound(self, request: WebhookRequest) -> InboundReport | None: ...


@runtime_checkable
class OptOutSource(Protocol):
    """Optional role of a provider: the numbers that opted out at the provider itself (Amazon SNS keeps such a
    list when people answer STOP), read by ``smscore optout sync``.

    ``opted_out_numbers`` yields them, page after page as the provider serves them; it raises when the provider
    cannot be asked (a :class:`~smscore.errors.ProviderError`).
    """

    def opted_out_numbers(self) -> Iterator[str]: ...


class RateLimiter(Protocol):
    """Send slots per key (a provider name), shared by every process that uses the same store.

    ``reserve`` atomically books ``count`` consecutive slots ``interval`` seconds apart and returns when the
    first of them starts: ``now`` when the key is idle, later when earlier reservations (by any process) still
    run. The next reservation for the key starts where this one ends (start + count * interval). Keys are
    independent.
    """

    def reserve(self, key: str, count: int, *, interval: float, now: datetime) -> datetime: ...


def check_reservation(count: int, interval: float, now: datetime) -> None:
    """The arguments every :meth:`RateLimiter.reserve` refuses with ``ValueError``, before touching its store:
    a count below one, an interval that is not positive, a naive ``now`` (its instant would be unknown)."""
    if count < 1 or interval <= 0:
        raise ValueError("count must be at least 1 and interval positive")
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be timezone-aware, not {now.isoformat()}")


def check_new_batch(messages: Sequence[SMSMessage]) -> list[str]:
    """The arguments every :meth:`MessageRepository.add_many` refuses with ``ValueError``, before touching its
    store: a message that already has an id, an idempotency key given twice in the batch. Returns the batch's
    keys, for the adapter's check against the keys already stored."""
    keys: set[str] = set()
    for message in messages:
        if message.id is not None:
            raise ValueError(f"message already has id {message.id}; use save()")
        key = message.idempotency_key
        if key is not None:
            if key in keys:
                raise ValueError(f"idempotency key {key!r} given twice in one batch")
            keys.add(key)
    return sorted(keys)


@runtime_checkable
class SchemaManager(Protocol):
    """Optional role of a :class:`StorageFactory`: create or upgrade the configured database's schema, and check
    it, without building the storage (``smscore db upgrade`` and ``smscore db check``).

    Each returns a one-line report. ``check_database`` raises a :class:`~smscore.errors.StorageError` when the
    schema is not at the newest revision or differs from the code's.
    """

    def upgrade_database(self, config: SMSConfig) -> str: ...

    def check_database(self, config: SMSConfig) -> str: ...


class StorageFactory(Protocol):
    """What ``storage`` names in the configuration: builds the :class:`Storage` for a configuration.

    Raises :class:`~smscore.errors.ConfigurationError` for bad options and :class:`~smscore.errors.StorageError`
    when the database cannot be opened. A factory whose storage has a schema also plays :class:`SchemaManager`.
    """

    def __call__(self, config: SMSConfig) -> Storage: ...


@attrs.frozen
class Storage:
    """The repositories a storage adapter provides, its rate limiter, and how to release its resources.

    ``opt_outs``, ``refusals`` and ``inbound`` are the opt-out list, the refusal totals and the SMS received; a
    storage without them gets in-memory ones from the service (kept only by that process).
    """

    messages: MessageRepository
    templates: TemplateRepository
    close: Callable[[], None] = attrs.field(default=lambda: None)
    rate_limiter: RateLimiter | None = None
    opt_outs: OptOutRepository | None = None
    refusals: RefusalCounter | None = None
    inbound: InboundRepository | None = None
