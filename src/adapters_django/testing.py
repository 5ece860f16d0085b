"""Capturing the SMS a project's code sends during a test, as Django's ``mail.outbox`` captures e-mail.

:func:`capture_sms` is a context manager for any test (Django's ``TestCase`` included); with pytest, the fixture
``sms_outbox`` (registered by smscore's pytest plugin, as pytest-django registers ``mailoutbox``) does the same for
the whole test::

    from adapters_django.testing import capture_sms

    with capture_sms() as outbox:
        adapters_django.send("+420777123456", "Your code is 1234", tag="otp")
    assert [(m.recipient, m.content) for m in outbox] == [("+420777123456", "Your code is 1234")]

Within the block:

- no provider is called: every configured backend (``PYMESS_SMS_SENDER_BACKEND`` or each entry of
  ``PYMESS_SMS_BACKENDS``, names kept, so routing and failover work as configured) is replaced by one that accepts
  every message (state SENT);
- the outbox lists, in order, every message stored for sending, once each: what ``adapters_django.send``,
  ``send_template``, a template's ``send`` and the core's service stored. It is captured when the message is
  stored, so it is complete inside a test's transaction too, where publishing waits for a commit that never comes;
  a message refused before storing (bad input, ``can_send`` false, an idempotency key already used) is not in it,
  and neither is one whose transaction rolled back;
- each entry is the :class:`~adapters_django.models.OutputSMSMessage` as it is stored now (read when you look), so
  ``outbox[0].state`` is the outcome of the send and ``outbox[0].related_objects.all()`` works.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, overload

from django.test import override_settings

from adapters_django import conf
from adapters_django.signals import sms_state_changed

if TYPE_CHECKING:
    from adapters_django.models import OutputSMSMessage

__all__ = ["ACCEPTING_BACKEND", "SMSOutbox", "capture_sms"]

#: The backend that replaces every configured one while capturing: accepts every message, sends nothing.
ACCEPTING_BACKEND = "smscore.testing:ScriptedProvider"

_captures = itertools.count()


class SMSOutbox(Sequence["OutputSMSMessage"]):
    """The messages stored for sending since the capture began, oldest first (see the module docstring)."""

    def __init__(self) -> None:
        # The id and creation time of each message: a rolled-back message's id may be given to a later one.
        self._stored: list[tuple[int, datetime]] = []

    def _record(self, *, message_id: int, old_state: object, at: datetime, **kwargs: Any) -> None:
        if old_state is None:  # the message's first change: it was just stored
            self._stored.append((message_id, at))

    def clear(self) -> None:
        """Forget the messages captured so far, as ``mail.outbox = []`` does for e-mail."""
        self._stored.clear()

    def _messages(self) -> list[OutputSMSMessage]:
        from adapters_django.models import OutputSMSMessage

        rows = OutputSMSMessage.objects.using(conf.database_alias()).in_bulk([pk for pk, _ in self._stored])
        return [rows[pk] for pk, created in self._stored if pk in rows and rows[pk].created_at == created]

    @overload
    def __getitem__(self, index: int) -> OutputSMSMessage: ...

    @overload
    def __getitem__(self, index: slice) -> list[OutputSMSMessage]: ...

    def __getitem__(self, index: int | slice) -> OutputSMSMessage | list[OutputSMSMessage]:
        return self._messages()[index]

    def __len__(self) -> int:
        return len(self._messages())

    def __iter__(self) -> Iterator[OutputSMSMessage]:
        return iter(self._messages())

    def __repr__(self) -> str:
        return f"<SMSOutbox of {len(self._stored)} captured message(s)>"


def _accepting_backends() -> dict[str, Any]:
    """The settings that replace every configured backend with :data:`ACCEPTING_BACKEND`, names kept."""
    named = conf.read("PYMESS_SMS_BACKENDS")
    if isinstance(named, dict) and named:
        return {"PYMESS_SMS_BACKENDS": {name: {"backend": ACCEPTING_BACKEND} for name in named}}
    return {"PYMESS_SMS_SENDER_BACKEND": ACCEPTING_BACKEND}


@contextmanager
def capture_sms() -> Iterator[SMSOutbox]:
    """Within the block no SMS leaves, and the returned :class:`SMSOutbox` lists every message stored for sending
    (see the module docstring). The settings and the service are back to the project's own afterwards."""
    outbox = SMSOutbox()
    uid = f"adapters_django.testing.capture_sms.{next(_captures)}"
    with override_settings(**_accepting_backends()):
        sms_state_changed.connect(outbox._record, dispatch_uid=uid, weak=False)
        try:
            yield outbox
        finally:
            sms_state_changed.disconnect(dispatch_uid=uid)
