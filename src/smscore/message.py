"""The message value, the values that travel with it, and the checks of the caller's values that become them.

:class:`SMSMessage` is frozen: every change returns a new value, and every change of state goes through the
table in :mod:`smscore.states`. Time always comes in as an argument, so the same inputs give the same message.
The checks (:func:`check_sender`, :func:`check_idempotency_key`, :func:`check_extra_data`) raise a typed
:class:`~smscore.errors.InvalidMessageError` for anything no storage could keep, before anything is stored.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

import attrs

from smscore.errors import InvalidExtraDataError, InvalidMessageError
from smscore.outcome import Outcome
from smscore.states import FINAL_STATES, TRANSITIONS, SMSState, check_transition
from smscore.text import check_sendable, check_storable

__all__ = [
    "DEFAULT_PRIORITY",
    "MAX_EXTRA_DATA_BYTES",
    "MAX_EXTRA_DATA_DEPTH",
    "MUTABLE_FIELDS",
    "PRIORITIES",
    "ROW_FIELDS",
    "RelatedObject",
    "SMSMessage",
    "check_extra_data",
    "check_idempotency_key",
    "check_sender",
]

#: Priority 1 is the highest, 3 the lowest (as in django-pymess); new messages get 3 unless told.
DEFAULT_PRIORITY = 3

#: Every priority a message may have, highest first: claims take the due messages of each in turn.
PRIORITIES: Final = (1, 2, 3)

#: The fields that change over a message's life, and so the only ones a repository's ``save`` writes; the others
#: (recipient, content, created_at, sender, template_slug, extra_data, tag, priority, encoding, idempotency_key,
#: related_objects) are fixed when the message is added. ``send_at`` and ``deferred_reason`` change when a worker
#: reaching a message in the quiet hours of its tag puts it back for later.
MUTABLE_FIELDS: frozenset[str] = frozenset(
    {
        "state",
        "changed_at",
        "sent_at",
        "error",
        "extra_sender_data",
        "attempts",
        "provider",
        "backend",
        "provider_ref",
        "segments",
        "next_attempt_at",
        "send_at",
        "deferred_reason",
        "lease_expires_at",
        "price",
        "price_unit",
        "version",
    }
)

#: States in which the provider has (or may have) the message in hand: ``sent_at`` is set on entering them.
_HANDED_OFF = frozenset({SMSState.SENDING, SMSState.SENT, SMSState.DELIVERED, SMSState.DEBUG, SMSState.UNKNOWN})


#: Largest extra data accepted, in bytes of JSON.
MAX_EXTRA_DATA_BYTES: Final = 64 * 1024
#: Deepest nesting of extra data accepted (a mapping in a mapping is two levels).
MAX_EXTRA_DATA_DEPTH: Final = 32
#: Most keys, values and items extra data may hold in all: enough for MAX_EXTRA_DATA_BYTES, checked first so that
#: a huge value is refused without being encoded.
_MAX_EXTRA_DATA_ITEMS: Final = MAX_EXTRA_DATA_BYTES


def _short_text(
    value: object, name: str, longest: int, check: Callable[[str, str, type[InvalidMessageError]], None]
) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= longest:
        raise InvalidMessageError(f"{name} must be a string of 1 to {longest} characters")
    check(value, name, InvalidMessageError)
    return value


def check_sender(value: object) -> str | None:
    """``value`` if it is ``None`` or a sender of 1 to 20 characters without control characters or lone
    surrogates; raises :class:`~smscore.errors.InvalidMessageError` otherwise."""
    return _short_text(value, "sender", 20, check_sendable)


def check_idempotency_key(value: object) -> str | None:
    """``value`` if it is ``None`` or a key of 1 to 255 characters without NUL or lone surrogates; raises
    :class:`~smscore.errors.InvalidMessageError` otherwise."""
    return _short_text(value, "idempotency_key", 255, check_storable)


def check_extra_data(data: object) -> dict[str, Any]:
    """A copy of ``data`` as it will be stored: a mapping of JSON values (mappings, lists, strings, numbers,
    booleans, null) that keeps to :data:`MAX_EXTRA_DATA_DEPTH` levels and :data:`MAX_EXTRA_DATA_BYTES` bytes
    of JSON, with no NUL or lone surrogate in any string.

    Raises :class:`~smscore.errors.InvalidExtraDataError` otherwise. The shape is walked without recursion, so
    data nested any depth is refused with that error too.
    """
    if not isinstance(data, Mapping):
        raise InvalidExtraDataError(f"extra data must be a mapping, not {type(data).__name__}")
    if not data:
        return {}
    _check_shape(data)
    try:
        text = json.dumps(dict(data), allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise InvalidExtraDataError(f"extra data is not JSON-serialisable: {exc}") from None
    if len(text) * 4 > MAX_EXTRA_DATA_BYTES and len(text.encode()) > MAX_EXTRA_DATA_BYTES:
        raise InvalidExtraDataError(f"extra data is larger than {MAX_EXTRA_DATA_BYTES} bytes as JSON")
    copy: dict[str, Any] = json.loads(text)
    return copy


def _check_shape(data: Mapping[Any, Any]) -> None:
    """Depth, item count and strings of ``data``, walked with a stack of its own."""
    items = _MAX_EXTRA_DATA_ITEMS
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_EXTRA_DATA_DEPTH:
            raise InvalidExtraDataError(f"extra data nests more than {MAX_EXTRA_DATA_DEPTH} levels deep")
        children = [*value.keys(), *value.values()] if isinstance(value, Mapping) else value
        items -= len(children)
        if items < 0:
            raise InvalidExtraDataError(f"extra data holds more than {_MAX_EXTRA_DATA_ITEMS} keys and values")
        for child in children:
            if isinstance(child, str):
                check_storable(child, "extra data", InvalidExtraDataError)
            elif isinstance(child, Mapping | list | tuple):
                stack.append((child, depth + 1))


def _object_id(value: object) -> str:
    text = str(value)
    check_storable(text, "related object id")
    return text


def _content_type(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidMessageError(f"related object content type must be a string, not {type(value).__name__}")
    check_storable(value, "related object content type")
    return value


@attrs.frozen
class RelatedObject:
    """A link from a message to an object of the application (an order, a user...).

    ``content_type`` names the kind of object (Django: ``"app_label.modelname"``; elsewhere any stable name),
    ``object_id`` is its primary key as text. ``RelatedObject("shop.order", 42)`` and
    ``RelatedObject("shop.order", "42")`` are equal. Raises :class:`~smscore.errors.InvalidMessageError` (a
    ``ValueError``) for text no storage can keep (NUL, lone surrogates).
    """

    content_type: str = attrs.field(converter=_content_type)
    object_id: str = attrs.field(converter=_object_id)

    @property
    def object_id_int(self) -> int | None:
        """The id as an integer when it is one (stored in an indexed column for fast look-ups)."""
        text = self.object_id
        if text.isascii() and text.lstrip("-").isdigit() and len(text) <= 19:
            value = int(text)
            if -(2**63) <= value < 2**63:
                return value
        return None

    @classmethod
    def of(cls, obj: object) -> RelatedObject:
        """Describe any object: a ``RelatedObject`` is returned as is; a Django model instance gives
        ``"app_label.modelname"`` and its ``pk``; anything else its ``module.QualName`` and ``pk`` or ``id``.

        Raises ``ValueError`` for an object without an id (an unsaved model instance, say).
        """
        if isinstance(obj, RelatedObject):
            return obj
        meta = getattr(obj, "_meta", None)
        label = getattr(meta, "label_lower", None)
        if not isinstance(label, str):
            label = f"{type(obj).__module__}.{type(obj).__qualname__}"
        pk = getattr(obj, "pk", None)
        if pk is None:
            pk = getattr(obj, "id", None)
        if pk is None:
            raise ValueError(f"related object {obj!r} has no id (pk or id attribute); save it first")
        return cls(label, pk)


# A dict class, not slots: copying a message is then one dict update instead of a setter call per field, and every
# hot path copies a message two or three times (stored, attempt recorded, saved).
@attrs.frozen(kw_only=True, slots=False)
class SMSMessage:
    """One SMS and everything known about it.

    Fields: ``created_at``, ``changed_at``, ``sent_at``, ``recipient`` (E.164),
    ``sender``, ``content``, ``template_slug``, ``state``, ``backend`` (dotted path of the backend class that
    handled it), ``error``, ``extra_data`` (the caller's JSON data), ``extra_sender_data`` (the provider's JSON
    data), ``tag``, ``related_objects``, the ``failed`` property, ``id`` (``None`` until stored),
    ``provider`` (the configured name of the provider), ``attempts``, ``priority`` (1 highest .. 3 lowest),
    ``provider_ref`` (the provider's id for the message), ``encoding`` (``"GSM-7"`` or ``"UCS-2"``),
    ``segments``, ``idempotency_key``, ``next_attempt_at`` (when the message is next due for publishing: its
    creation or scheduled time, then each retry's; a message built without one is due when created),
    ``lease_expires_at`` (while a worker holds it), ``send_at`` (the time it was scheduled for, moved out of quiet
    hours; ``None`` when sent as soon as possible), ``deferred_reason`` (why ``send_at`` is later than asked: the
    quiet hours that moved it), ``price`` / ``price_unit`` (when the provider reports them) and ``version`` (bumped
    by every save, for compare-and-set).
    """

    id: int | None = None
    recipient: str
    content: str
    state: SMSState = SMSState.WAITING
    created_at: datetime
    changed_at: datetime
    sent_at: datetime | None = None
    sender: str | None = None
    template_slug: str | None = None
    backend: str | None = None
    provider: str | None = None
    error: str | None = None
    extra_data: Mapping[str, Any] = attrs.field(factory=dict)
    extra_sender_data: Mapping[str, Any] = attrs.field(factory=dict)
    tag: str | None = None
    related_objects: tuple[RelatedObject, ...] = ()
    attempts: int = 0
    priority: int = DEFAULT_PRIORITY
    provider_ref: str | None = None
    encoding: str = "GSM-7"
    segments: int = 1
    idempotency_key: str | None = None
    next_attempt_at: datetime | None = None
    lease_expires_at: datetime | None = None
    send_at: datetime | None = None
    deferred_reason: str | None = None
    price: Decimal | None = None
    price_unit: str | None = None
    version: int = 0

    def __attrs_post_init__(self) -> None:
        if self.next_attempt_at is None:
            # Claims read due messages by this time from an index: every new message has one.
            object.__setattr__(self, "next_attempt_at", self.created_at)

    @property
    def failed(self) -> bool:
        """True exactly when the message ended in ERROR."""
        return self.state is SMSState.ERROR

    @property
    def is_final(self) -> bool:
        """True when no further state change is possible."""
        return self.state in FINAL_STATES

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> SMSMessage:
        """A message from a mapping that holds exactly every field's value, taken as given: how a storage builds
        messages from whole rows. Raises ``TypeError`` naming a missing or unknown field.

        Matching a few dozen keyword arguments costs several times more than the copy this does, and whole rows
        are read on every delivery check and claim.
        """
        if fields.keys() != _FIELD_SET:
            missing, unknown = sorted(_FIELD_SET - fields.keys()), sorted(fields.keys() - _FIELD_SET)
            raise TypeError(f"SMSMessage fields: missing {missing}, unknown {unknown}")
        message = object.__new__(cls)
        # Frozen against callers; filled in directly, as attrs' own __init__ does.
        message.__dict__.update(fields)
        return message

    def replace(self, **changes: Any) -> SMSMessage:
        """A copy with ``changes`` applied: :func:`attrs.evolve`, several times faster (this is on every hot
        path). Raises ``TypeError`` for a name that is not a field. State changes belong to :meth:`transition`.
        """
        if not _FIELD_SET.issuperset(changes):  # no set built on the way: this runs several times per message
            raise TypeError(f"SMSMessage has no field {sorted(changes.keys() - _FIELD_SET)[0]!r}")
        return self._changed(changes)

    def _changed(self, changes: Mapping[str, Any]) -> SMSMessage:
        """:meth:`replace` for changes built here, whose names are fields (no keyword arguments to pack again)."""
        copy = object.__new__(SMSMessage)
        # The class is frozen against callers; its own copy is filled in directly, as attrs' __init__ does.
        fields = copy.__dict__
        fields.update(self.__dict__)
        fields.update(changes)
        return copy

    def transition(self, target: SMSState, *, at: datetime, error: str | None = None) -> SMSMessage:
        """Move to ``target`` at time ``at``, with ``error`` as the new error text (``None`` clears it).

        Raises :class:`~smscore.errors.InvalidStateTransitionError` if the table forbids the move; the
        message itself is never changed (it is frozen). Entering a handed-off state sets ``sent_at`` once;
        any move ends a worker's lease.
        """
        return self._changed(self._moved(target, at=at, error=error))

    def record_attempt(self, outcome: Outcome, *, at: datetime) -> SMSMessage:
        """Apply the outcome of one publish attempt: one more attempt, then the outcome's state.

        A transient outcome (state WAITING) keeps the message WAITING; use :meth:`retry_later` to also set
        when it is due again.
        """
        changes = self._moved(outcome.state, at=at, error=outcome.error)
        changes.update(self._provider_data(outcome), attempts=self.attempts + 1)
        return self._changed(changes)

    def retry_later(self, *, at: datetime, due: datetime, error: str | None) -> SMSMessage:
        """A transient failure: stay WAITING, count the attempt, and become due again at ``due``."""
        changes = self._moved(SMSState.WAITING, at=at, error=error)
        changes.update(attempts=self.attempts + 1, next_attempt_at=due)
        return self._changed(changes)

    def apply_report(self, outcome: Outcome, *, at: datetime) -> SMSMessage:
        """Apply a delivery report (poll or callback); attempts are not counted.

        Reports that the table does not allow (a late SENT after DELIVERED, anything after a final state) are
        ignored and the message itself is returned, so replayed and out-of-order reports are harmless. A report
        of the current state only merges new provider data (the message itself when there is none), so
        ``apply_report(...) is message`` tells that nothing changed.
        """
        if outcome.state is self.state:
            merged = self._changed(self._provider_data(outcome))
            return self if merged == self else merged.replace(changed_at=at)
        if outcome.state not in TRANSITIONS[self.state]:
            return self
        changes = self._moved(outcome.state, at=at, error=outcome.error)
        changes.update(self._provider_data(outcome))
        return self._changed(changes)

    def _moved(self, target: SMSState, *, at: datetime, error: str | None) -> dict[str, Any]:
        """The field changes of a move to ``target`` (checked against the table)."""
        check_transition(self.state, target, self.id)
        sent_at = self.sent_at
        if sent_at is None and target in _HANDED_OFF:
            sent_at = at
        return {"state": target, "changed_at": at, "error": error, "sent_at": sent_at, "lease_expires_at": None}

    def _provider_data(self, outcome: Outcome) -> dict[str, Any]:
        """What an outcome adds: the reference, merged provider data, price and segments when reported."""
        extra = dict(self.extra_sender_data)
        extra.update(outcome.extra_sender_data)
        if outcome.error_code is not None:
            extra["error_code"] = outcome.error_code
        return {
            "provider_ref": outcome.provider_ref if outcome.provider_ref is not None else self.provider_ref,
            "extra_sender_data": extra,
            "price": outcome.price if outcome.price is not None else self.price,
            "price_unit": outcome.price_unit if outcome.price_unit is not None else self.price_unit,
            "segments": outcome.segments if outcome.segments is not None else self.segments,
        }


#: Field names of SMSMessage, in order; as a set, what :meth:`SMSMessage.replace` and ``from_fields`` accept.
_FIELD_NAMES: tuple[str, ...] = tuple(field.name for field in attrs.fields(SMSMessage))
_FIELD_SET: frozenset[str] = frozenset(_FIELD_NAMES)

#: The fields a storage keeps in the message's own row, in field order: all but ``related_objects`` (a list of
#: their own) and ``id`` (assigned by the storage).
ROW_FIELDS: tuple[str, ...] = tuple(name for name in _FIELD_NAMES if name not in {"id", "related_objects"})
