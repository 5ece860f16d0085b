"""Bringing a django-pymess project's rows over: its templates, messages and related objects, copied from the
ancestor's tables (``pymess_smstemplate``, ``pymess_outputsmsmessage``, ``pymess_outputsmsrelatedobject``) in
the same database into this app's tables. ``manage.py import_pymess`` runs it.

What a copied message becomes:

- its id, when that id is free here (the usual case: import before sending anything), so that the gateways that
  know a message by its id (ATS ``uniq``, SMS-operator ``SmsId``) still answer delivery checks for it; a message
  whose id is taken gets a new one and is counted as renumbered;
- its state through :data:`ANCESTOR_STATES`; WAITING (1) and ERROR_RETRY (9) messages older than the send
  deadline become ERROR, as the ancestor's batch command would have failed them, instead of going out late;
- its backend class path becomes the name of the configured backend of that class (the one with the same
  ``UNIQ_PREFIX`` first, then the default); a path no configured backend matches is kept as it was and reported;
- the provider's reference: ATS and SMS-operator ``<prefix>-<id>`` (prefix from ``extra_sender_data``), a Twilio
  sid or an SNS MessageId found in ``extra_sender_data``; ``extra_sender_data`` itself is kept;
- ``idempotency_key`` ``pymess:<ancestor id>``: how a second run knows the message is already here.

Templates keep slug, body, ``is_active`` and creation time; a slug that already exists here is left alone.
Related objects keep content type and object id. The ancestor's tables are only read.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import attrs
from django.core.management.color import no_style
from django.db import connections, transaction
from django.utils.dateparse import parse_datetime

from adapters_django.models import OutputSMSMessage, OutputSMSRelatedObject, get_template_model
from smscore import SMSService, SMSState
from smscore.bootstrap import PROVIDER_ALIASES
from smscore.text import count_segments, detect_encoding

__all__ = [
    "ANCESTOR_STATES",
    "MESSAGE_TABLE",
    "RELATED_OBJECT_TABLE",
    "TEMPLATE_TABLE",
    "ImportReport",
    "PymessImporter",
]

MESSAGE_TABLE: Final = "pymess_outputsmsmessage"
RELATED_OBJECT_TABLE: Final = "pymess_outputsmsrelatedobject"
TEMPLATE_TABLE: Final = "pymess_smstemplate"

#: Every state of django-pymess (0.7.6 and its forks): its number -> its name and the state it becomes here.
#: ERROR_UPDATE (a failure the provider reported; plain "error" before the ancestor's migration 0017) is ERROR;
#: ERROR_RETRY (a failed attempt to be retried) is WAITING with its attempts counted, which the outbox retries.
ANCESTOR_STATES: Final[Mapping[int, tuple[str, SMSState]]] = {
    1: ("WAITING", SMSState.WAITING),
    2: ("UNKNOWN", SMSState.UNKNOWN),
    3: ("SENDING", SMSState.SENDING),
    4: ("SENT", SMSState.SENT),
    5: ("ERROR_UPDATE", SMSState.ERROR),
    6: ("DEBUG", SMSState.DEBUG),
    7: ("DELIVERED", SMSState.DELIVERED),
    8: ("ERROR", SMSState.ERROR),
    9: ("ERROR_RETRY", SMSState.WAITING),
}

#: The ancestor's default ``PYMESS_SMS_BATCH_MAX_SECONDS_TO_SEND``, used when no send deadline is configured.
ANCESTOR_SEND_DEADLINE: Final = timedelta(seconds=3600)

_KEY_PREFIX: Final = "pymess:"
_GATEWAYS: Final = frozenset({PROVIDER_ALIASES["ats"], PROVIDER_ALIASES["sms-operator"]})
#: Where a provider's own reference may sit in the ancestor's ``extra_sender_data`` (custom backends, forks).
_REF_KEYS: Final[Mapping[str, tuple[str, ...]]] = {
    PROVIDER_ALIASES["twilio"]: ("sid", "message_sid", "MessageSid", "twilio_sid"),
    PROVIDER_ALIASES["sns"]: ("MessageId", "message_id", "sns_message_id"),
}
_IN_FLIGHT: Final = frozenset({SMSState.SENDING, SMSState.UNKNOWN, SMSState.SENT})
_MESSAGE_COLUMNS: Final = (
    "id",
    "created_at",
    "changed_at",
    "sent_at",
    "recipient",
    "sender",
    "content",
    "template_id",
    "template_slug",
    "state",
    "backend",
    "error",
    "extra_data",
    "extra_sender_data",
    "tag",
    "number_of_send_attempts",
    "priority",
)
_MAX_BIGINT: Final = 2**63 - 1


@attrs.define
class ImportReport:
    """What an import copied, found already copied, and could not carry over faithfully."""

    templates_copied: int = 0
    templates_present: int = 0
    templates_without_body: list[str] = attrs.field(factory=list)
    messages_total: int = 0
    messages_copied: int = 0
    messages_present: int = 0
    related_objects_copied: int = 0
    #: (ancestor state number, state here) -> messages copied.
    states: Counter[tuple[int, SMSState]] = attrs.field(factory=Counter)
    #: Ancestor state numbers no version of django-pymess had -> messages left out.
    unknown_states: Counter[int] = attrs.field(factory=Counter)
    #: WAITING / ERROR_RETRY messages past the send deadline, copied as ERROR.
    expired_waiting: int = 0
    #: Backend class paths no configured backend matches -> messages (kept as they were, no provider).
    unknown_backends: Counter[str] = attrs.field(factory=Counter)
    #: Messages whose id was taken here: they got a new one.
    renumbered: int = 0
    #: Messages in flight at ATS / SMS-operator whose delivery cannot be asked about (new id, other prefix).
    unresolvable_in_flight: int = 0


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = parse_datetime(value)
        if value is None:
            return None
    if not isinstance(value, datetime):
        return None
    # Django writes UTC into databases without time zones (SQLite), so a naive value is UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _json(value: Any, *, where: str) -> dict[str, Any]:
    if value is None or value == "":
        return {}
    if isinstance(value, str | bytes):
        try:
            value = json.loads(value)
        except ValueError:
            return {f"pymess_{where}": value if isinstance(value, str) else value.decode(errors="replace")}
    if isinstance(value, dict):
        return value
    return {f"pymess_{where}": value}


def _object_id_int(object_id: str) -> int | None:
    text = object_id.strip()
    if not (text.isascii() and text.lstrip("-").isdigit()):
        return None
    number = int(text)
    return number if -_MAX_BIGINT <= number <= _MAX_BIGINT else None


def _path(backend: str) -> str:
    return PROVIDER_ALIASES.get(backend, backend).replace(":", ".")


class _Backends:
    """Configured backends by class: which name an ancestor backend path becomes here."""

    def __init__(self, service: SMSService) -> None:
        self._by_path: dict[str, list[str]] = {}
        self._prefixes: dict[str, str] = {}
        self.default = service.config.default_provider
        if self.default not in service.providers:
            self.default = next(iter(service.providers))
        self.classes = {name: type(provider) for name, provider in service.providers.items()}
        for name, entry in service.config.providers.items():
            self._by_path.setdefault(_path(entry.backend), []).append(name)
            self._prefixes[name] = str(entry.options.get("uniq_prefix") or "")

    def name_for(self, path: str, prefix: str | None) -> str | None:
        """The configured name for an ancestor backend ``path`` (``prefix``: its UNIQ_PREFIX, when known)."""
        names = self._by_path.get(_path(path), [])
        if len(names) > 1:
            same_prefix = [name for name in names if self._prefixes[name] == prefix]
            if same_prefix:
                return same_prefix[0]
            return self.default if self.default in names else sorted(names)[0]
        return names[0] if names else None

    def prefix(self, name: str) -> str:
        """The UNIQ_PREFIX configured for the backend ``name``."""
        return self._prefixes.get(name, "")

    def backend_path(self, name: str) -> str:
        """What a message sent through ``name`` stores in ``backend``."""
        cls = self.classes[name]
        return f"{cls.__module__}.{cls.__qualname__}"


class PymessImporter:
    """Copies the ancestor's rows in batches of ``batch_size`` messages, each batch in one transaction.

    ``service`` gives the configured backends and the clock; ``using`` is the database alias of both the
    ancestor's tables and this app's; with ``dry_run`` nothing is written and the report says what would be.
    ``progress`` receives one line per batch.
    """

    def __init__(
        self,
        service: SMSService,
        *,
        using: str,
        batch_size: int = 500,
        dry_run: bool = False,
        send_deadline: timedelta | None = None,
        progress: Callable[[str], object] = lambda line: None,
    ) -> None:
        self.using = using
        self.batch_size = batch_size
        self.dry_run = dry_run
        self.progress = progress
        self.now = service.clock.now()
        seconds = service.config.max_seconds_to_send
        default = timedelta(seconds=seconds) if seconds is not None else ANCESTOR_SEND_DEADLINE
        self.send_deadline = send_deadline if send_deadline is not None else default
        self.backends = _Backends(service)
        self.report = ImportReport()
        self._connection = connections[using]

    def missing_tables(self) -> list[str]:
        """The ancestor's tables that are not in the database."""
        present = set(self._connection.introspection.table_names())
        return [table for table in (TEMPLATE_TABLE, MESSAGE_TABLE, RELATED_OBJECT_TABLE) if table not in present]

    def run(self) -> ImportReport:
        """Copy templates, then messages with their related objects; return what was done."""
        templates = self._templates()
        self.report.messages_total = self._count(MESSAGE_TABLE)
        done = 0
        for rows in self._batches():
            with transaction.atomic(using=self.using):
                self._messages(rows, templates)
            done += len(rows)
            self.progress(f"messages: {done}/{self.report.messages_total}")
        if self.report.messages_copied and not self.dry_run:
            self._reset_id_sequence()
        return self.report

    # -- reading the ancestor's tables ------------------------------------------------------------------

    def _select(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._connection.cursor() as cursor:
            cursor.execute(sql, params)
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def _count(self, table: str) -> int:
        rows = self._select(f"SELECT COUNT(*) AS n FROM {self._connection.ops.quote_name(table)}")
        return int(rows[0]["n"])

    def _batches(self) -> Iterator[list[dict[str, Any]]]:
        quote = self._connection.ops.quote_name
        columns = ", ".join(quote(column) for column in _MESSAGE_COLUMNS)
        sql = f"SELECT {columns} FROM {quote(MESSAGE_TABLE)} WHERE {quote('id')} > %s ORDER BY {quote('id')}"
        last = 0
        while True:
            rows = self._select(f"{sql} LIMIT {int(self.batch_size)}", [last])
            if not rows:
                return
            yield rows
            last = int(rows[-1]["id"])

    # -- templates --------------------------------------------------------------------------------------

    def _templates(self) -> dict[str, Any]:
        """Copy the templates; return slug -> primary key here of every template the messages may point at."""
        model = get_template_model()
        manager = model._default_manager.using(self.using)
        quote = self._connection.ops.quote_name
        rows = self._select(
            f"SELECT {quote('slug')}, {quote('body')}, {quote('is_active')}, {quote('created_at')}, "
            f"{quote('changed_at')} FROM {quote(TEMPLATE_TABLE)} ORDER BY {quote('slug')}"
        )
        present = dict(manager.filter(slug__in=[row["slug"] for row in rows]).values_list("slug", "pk"))
        for row in rows:
            slug = str(row["slug"])
            if slug in present:
                self.report.templates_present += 1
            elif row["body"] is None:
                self.report.templates_without_body.append(slug)
            else:
                self.report.templates_copied += 1
                if not self.dry_run:
                    present[slug] = self._copy_template(model, row)
        return present

    def _copy_template(self, model: Any, row: Mapping[str, Any]) -> Any:
        created = _aware(row["created_at"]) or self.now
        template = model(slug=row["slug"], body=row["body"], is_active=bool(row["is_active"]), created_at=created)
        template.save(using=self.using)
        # changed_at is auto_now: the ancestor's value is written after the save that set it to now.
        model._default_manager.using(self.using).filter(pk=template.pk).update(
            changed_at=_aware(row["changed_at"]) or created
        )
        return template.pk

    # -- messages ---------------------------------------------------------------------------------------

    def _messages(self, rows: list[dict[str, Any]], templates: Mapping[str, Any]) -> None:
        manager = OutputSMSMessage.objects.using(self.using)
        keys = {f"{_KEY_PREFIX}{row['id']}": row for row in rows}
        present = set(manager.filter(idempotency_key__in=list(keys)).values_list("idempotency_key", flat=True))
        self.report.messages_present += len(present)
        todo = [row for key, row in keys.items() if key not in present]
        taken = set(manager.filter(pk__in=[row["id"] for row in todo]).values_list("pk", flat=True))
        copies: dict[int, OutputSMSMessage] = {}
        for row in todo:
            message = self._message(row, templates, keep_id=row["id"] not in taken)
            if message is not None:
                copies[int(row["id"])] = message
        if self.dry_run or not copies:
            return
        manager.bulk_create(list(copies.values()))
        self._related_objects(copies)

    def _message(
        self, row: Mapping[str, Any], templates: Mapping[str, Any], *, keep_id: bool
    ) -> OutputSMSMessage | None:
        number = int(row["state"])
        if number not in ANCESTOR_STATES:
            self.report.unknown_states[number] += 1
            return None
        state = ANCESTOR_STATES[number][1]
        created = _aware(row["created_at"]) or self.now
        error = row["error"]
        if state is SMSState.WAITING and self.now - created > self.send_deadline:
            state = SMSState.ERROR
            error = f"not sent within {int(self.send_deadline.total_seconds())} seconds (imported from django-pymess)"
            self.report.expired_waiting += 1
        sender_data = _json(row["extra_sender_data"], where="extra_sender_data")
        provider, backend, ref = self._route(row, sender_data, state, keep_id=keep_id)
        template_key = row["template_id"] or row["template_slug"]
        content = str(row["content"] or "")
        encoding = detect_encoding(content)
        self.report.states[(number, state)] += 1
        self.report.messages_copied += 1
        self.report.renumbered += 0 if keep_id else 1
        return OutputSMSMessage(
            id=int(row["id"]) if keep_id else None,
            created_at=created,
            changed_at=_aware(row["changed_at"]) or created,
            sent_at=_aware(row["sent_at"]),
            recipient=str(row["recipient"]),
            sender=row["sender"],
            content=content,
            template_id=templates.get(template_key) if template_key is not None else None,
            template_slug=row["template_slug"],
            state=state.value,
            backend=backend,
            provider=provider,
            error=error,
            extra_data=_json(row["extra_data"], where="extra_data"),
            extra_sender_data=sender_data,
            tag=row["tag"],
            attempts=int(row["number_of_send_attempts"] or 0),
            priority=min(max(int(row["priority"] or 3), 1), 3),
            provider_ref=ref,
            encoding=encoding,
            segments=count_segments(content, encoding) if content else 1,
            idempotency_key=f"{_KEY_PREFIX}{row['id']}",
            # Due when created, as every message the core writes: the outbox claims by this time.
            next_attempt_at=created,
        )

    def _route(
        self, row: Mapping[str, Any], sender_data: Mapping[str, Any], state: SMSState, *, keep_id: bool
    ) -> tuple[str | None, str | None, str | None]:
        """The provider name, backend path and provider reference of a copied message."""
        path = row["backend"]
        if path is None:
            # Never handed to a backend: it goes to the default one, as a new message would.
            default = self.backends.default
            return default, self.backends.backend_path(default), None
        prefix = sender_data.get("prefix")
        name = self.backends.name_for(path, str(prefix) if prefix is not None else None)
        if name is None:
            self.report.unknown_backends[str(path)] += 1
            return None, str(path), None
        target = _gateway_target(path)
        ref: str | None = None
        if target in _GATEWAYS and state is not SMSState.WAITING:
            # A message to be sent (again) gets our own id on the wire; one the gateway holds keeps the ancestor's.
            used = str(prefix) if prefix is not None else self.backends.prefix(name)
            ref = f"{used}-{row['id']}"
            if state in _IN_FLIGHT and (not keep_id or used != self.backends.prefix(name)):
                self.report.unresolvable_in_flight += 1
        else:
            for key in _REF_KEYS.get(target or "", ()):
                value = sender_data.get(key)
                if isinstance(value, str) and value:
                    ref = value
                    break
        return name, self.backends.backend_path(name), ref

    def _related_objects(self, copies: Mapping[int, OutputSMSMessage]) -> None:
        quote = self._connection.ops.quote_name
        ids = list(copies)
        marks = ", ".join(["%s"] * len(ids))
        rows = self._select(
            f"SELECT {quote('created_at')}, {quote('content_type_id')}, {quote('object_id')}, "
            f"{quote('output_sms_message_id')} FROM {quote(RELATED_OBJECT_TABLE)} "
            f"WHERE {quote('output_sms_message_id')} IN ({marks}) ORDER BY {quote('id')}",
            ids,
        )
        related = [
            OutputSMSRelatedObject(
                output_sms_message_id=copies[int(row["output_sms_message_id"])].pk,
                content_type_id=row["content_type_id"],
                object_id=str(row["object_id"]),
                object_id_int=_object_id_int(str(row["object_id"])),
                created_at=_aware(row["created_at"]) or self.now,
            )
            for row in rows
        ]
        OutputSMSRelatedObject.objects.using(self.using).bulk_create(related)
        self.report.related_objects_copied += len(related)

    def _reset_id_sequence(self) -> None:
        """Move the id sequence past the copied ids (PostgreSQL; SQLite's AUTOINCREMENT follows by itself)."""
        statements = self._connection.ops.sequence_reset_sql(no_style(), [OutputSMSMessage])
        with self._connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)


def _gateway_target(path: str) -> str | None:
    """The alias target (``providers.ats:ATSSMSBackend``) a dotted backend path names, if it is a shipped one."""
    dotted = _path(path)
    for target in PROVIDER_ALIASES.values():
        if target.replace(":", ".") == dotted:
            return target
    return None
