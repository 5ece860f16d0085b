"""Scheduling in Django: ``send`` and ``send_template`` with ``send_at`` (in and out of a transaction), the
outbox command publishing when due, the admin's "cancel" action, and the quiet-hours settings and their check."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import Client, override_settings

import adapters_django
from adapters_django.models import OutputSMSMessage, SMSTemplate
from smscore import InvalidSendTimeError, SMSState
from tests.django.test_admin import act, notices, staff, store
from tests.django.test_checks import only
from tests.django.testapp.providers import TransactionSpyProvider

pytestmark = pytest.mark.django_db

OnCommit = Callable[..., AbstractContextManager[list[Callable[[], object]]]]


def _soon(**delta: float) -> datetime:
    return datetime.now(UTC) + timedelta(**delta)


class TestSendAt:
    def test_send_stores_a_scheduled_message_waiting(self, spy: TransactionSpyProvider) -> None:
        """Outside outbox mode too, a message for later is stored WAITING with its time, and nothing is sent."""
        due = _soon(hours=2)
        message = adapters_django.send("+420777123456", "Later", send_at=due)
        assert (message.state, message.send_at, message.next_attempt_at) == ("waiting", due, due)
        assert spy.published == []

    def test_send_template_takes_send_at(self, spy: TransactionSpyProvider) -> None:
        """A template send for later is rendered now and stored WAITING."""
        SMSTemplate.objects.create(slug="reminder", body="Hello {{ name }}")
        message = adapters_django.send_template("+420777123456", "reminder", {"name": "Eva"}, send_at=_soon(days=1))
        assert message is not None
        assert (message.state, message.content) == ("waiting", "Hello Eva")
        assert spy.published == []

    def test_inside_a_transaction_the_commit_does_not_publish_it_early(
        self, spy: TransactionSpyProvider, django_capture_on_commit_callbacks: OnCommit
    ) -> None:
        """Sent for later inside a transaction, the message is not published when the transaction commits."""
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            message = adapters_django.send("+420777123456", "Later", send_at=_soon(hours=1))
        message.refresh_from_db()
        assert message.state == "waiting"
        assert spy.published == []

    def test_a_naive_time_is_refused_and_nothing_stored(self) -> None:
        """A datetime without a time zone raises InvalidSendTimeError."""
        with pytest.raises(InvalidSendTimeError):
            adapters_django.send("+420777123456", "Later", send_at=datetime(2036, 1, 1, 9, 0))
        assert not OutputSMSMessage.objects.exists()

    def test_the_outbox_command_publishes_it_when_due(self, spy: TransactionSpyProvider) -> None:
        """send_messages_batch leaves a message alone until it is due, then publishes it."""
        early = adapters_django.send("+420777123456", "Later", send_at=_soon(hours=1))
        due = adapters_django.send("+420777123456", "Now-ish", send_at=_soon(seconds=-1))
        call_command("send_messages_batch", stdout=None)
        assert [m.id for m in spy.published] == [due.pk]
        early.refresh_from_db()
        assert early.state == "waiting"


class TestCancelAction:
    def test_waiting_messages_are_cancelled_and_the_others_refused(self, admin_client: Client) -> None:
        """Of three selected messages, the WAITING one is cancelled; the sent one and the one a worker holds are
        refused, each with its reason."""
        waiting = store(next_attempt_at=_soon(hours=1))
        sent = store(state=SMSState.SENT)
        held = store(lease_expires_at=_soon(minutes=5))
        page = act(admin_client, "cancel", waiting, sent, held)
        states = dict(OutputSMSMessage.objects.values_list("pk", "state"))
        assert states == {waiting.pk: "error", sent.pk: "sent", held.pk: "waiting"}
        waiting.refresh_from_db()
        assert waiting.error == "cancelled"
        assert notices(page) == [
            f"1 message cancelled: #{waiting.pk}; 2 messages refused.",
            f"#{sent.pk} refused: it is SENT, not WAITING",
            f"#{held.pk} refused: a worker is publishing it",
        ]

    def test_only_staff_who_may_change_messages_get_the_action(self) -> None:
        """Cancel changes states, so it comes with the change permission; view-only staff cannot post it."""
        adder = staff("view_outputsmsmessage", "add_outputsmsmessage").get("/admin/adapters_django/outputsmsmessage/")
        assert '<option value="cancel">' not in adder.content.decode()
        changer = staff("view_outputsmsmessage", "change_outputsmsmessage")
        assert '<option value="cancel">' in changer.get("/admin/adapters_django/outputsmsmessage/").content.decode()
        waiting = store()
        act(staff("view_outputsmsmessage"), "cancel", waiting, follow=False)
        waiting.refresh_from_db()
        assert waiting.state == "waiting"


class TestQuietHoursSettings:
    def test_the_settings_defer_a_tagged_message(self, spy: TransactionSpyProvider, settings: Any) -> None:
        """PYMESS_SMS_QUIET_HOURS with an empty window everywhere but one minute from now defers a marketing
        message and records why; the zone setting is used for numbers with no zone of their own."""
        opens = (datetime.now(UTC) + timedelta(hours=3)).replace(second=0, microsecond=0)
        closes = opens + timedelta(minutes=1)
        settings.PYMESS_SMS_QUIET_HOURS = {"marketing": {"allowed": f"{opens:%H:%M}-{closes:%H:%M}"}}
        settings.PYMESS_SMS_QUIET_HOURS_ZONE = "UTC"
        message = adapters_django.send("+16845551234", "Sale", tag="marketing")  # American Samoa: no zone data
        assert message.state == "waiting"
        assert message.send_at == opens
        assert "in UTC" in (message.deferred_reason or "")
        assert spy.published == []

    @pytest.mark.parametrize(
        ("setting", "value"),
        [
            ("PYMESS_SMS_QUIET_HOURS", {"marketing": {"allowed": "9-20"}}),
            ("PYMESS_SMS_QUIET_HOURS", ["marketing"]),
            ("PYMESS_SMS_QUIET_HOURS_ZONE", "Mars/Olympus"),
        ],
    )
    def test_a_wrong_value_is_e001_naming_the_setting(self, setting: str, value: Any) -> None:
        """The system check names the Django setting to fix."""
        with override_settings(**{setting: value}):
            finding = only("adapters_django.E001")
        assert finding.obj == setting
