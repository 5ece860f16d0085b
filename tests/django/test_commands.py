"""The management commands: ``check_sms_delivery`` (the seed's cron command) and ``send_messages_batch``."""

from __future__ import annotations

import io
import time
from typing import Any

import pytest
from django.core.management import CommandError, call_command

import adapters_django
from adapters_django.models import OutputSMSMessage
from smscore import Outcome, SMSState
from tests.django.support import install_spy
from tests.django.testapp.providers import BrokenCheckProvider

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


class TestCheckSMSDelivery:
    def test_delivery_reports_update_the_messages(self, settings: Any) -> None:
        """Messages in flight are asked about; a DELIVERED report is stored."""
        spy = install_spy(settings)
        spy.default_state = SMSState.SENDING
        delivered = adapters_django.send("+420777123456", "One")
        pending = adapters_django.send("+420777123456", "Two")
        spy.report(delivered.id, Outcome.accepted(SMSState.DELIVERED))
        output = run("check_sms_delivery")
        assert "checked 2 message(s): 1 changed, 0 timed out" in output
        delivered.refresh_from_db()
        pending.refresh_from_db()
        assert (delivered.state, pending.state) == ("delivered", "sending")

    def test_idle_messages_time_out(self, settings: Any) -> None:
        """A message SENDING for longer than the idle timeout becomes ERROR."""
        settings.PYMESS_SMS_IDLE_MESSAGES_TIMEOUT_MINUTES = 0.0005  # 30 ms
        spy = install_spy(settings)
        spy.default_state = SMSState.SENDING
        message = adapters_django.send("+420777123456", "One")
        time.sleep(0.05)
        assert "1 timed out" in run("check_sms_delivery")
        message.refresh_from_db()
        assert message.failed
        assert message.error is not None
        assert "timed out" in message.error

    def test_a_failing_backend_makes_the_command_fail(self, settings: Any) -> None:
        """A backend whose delivery check fails is an error exit; the message waits for the next run."""
        settings.PYMESS_SMS_BACKENDS = {
            "default": {"backend": "tests.django.testapp.providers:BrokenCheckProvider", "config": {}}
        }
        provider = adapters_django.get_service().providers["default"]
        assert isinstance(provider, BrokenCheckProvider)
        provider.default_state = SMSState.SENDING
        message = adapters_django.send("+420777123456", "One")
        with pytest.raises(CommandError, match="1 delivery check request"):
            run("check_sms_delivery")
        message.refresh_from_db()
        assert message.state == "sending"


class TestSendMessagesBatch:
    def test_publishes_waiting_messages_up_to_the_limit(self, settings: Any) -> None:
        """The outbox step publishes due messages, at most --limit of them."""
        settings.PYMESS_SMS_BATCH_SENDING = True
        for text in ("one", "two", "three"):
            adapters_django.send("+420777123456", text)
        assert set(OutputSMSMessage.objects.values_list("state", flat=True)) == {"waiting"}
        assert run("send_messages_batch", "--type=sms", "--limit=2").startswith("handled 2 message(s): debug=2")
        assert run("send_messages_batch").startswith("handled 1 message(s): debug=1")
        assert run("send_messages_batch").startswith("handled 0 message(s): nothing due")
        assert set(OutputSMSMessage.objects.values_list("state", flat=True)) == {"debug"}

    def test_higher_priority_goes_first(self, settings: Any) -> None:
        """Priority 1 is published before older messages of priority 3."""
        settings.PYMESS_SMS_BATCH_SENDING = True
        spy = install_spy(settings)
        adapters_django.send("+420777123456", "routine")
        adapters_django.send("+420777123456", "urgent", priority=1)
        run("send_messages_batch", "--limit=1")
        assert [m.content for m in spy.published] == ["urgent"]

    def test_other_message_types_are_refused(self) -> None:
        """The ancestor's --type accepts other channels; this app sends only SMS and says so."""
        with pytest.raises(CommandError, match="only SMS"):
            run("send_messages_batch", "--type=email")


class TestPurgeSMSMessages:
    def test_old_finished_messages_are_deleted_and_the_rest_kept(self, settings: Any) -> None:
        """--older-than deletes finished messages past the age; recent and unfinished ones stay."""
        install_spy(settings)
        old = adapters_django.send("+420777123456", "old")
        waiting = adapters_django.send("+420777123456", "waiting", send_immediately=False)
        OutputSMSMessage.objects.filter(pk__in=[old.pk, waiting.pk]).update(changed_at="2000-01-01T00:00:00Z")
        OutputSMSMessage.objects.filter(pk=waiting.pk).update(state="waiting")
        recent = adapters_django.send("+420777123456", "recent")
        assert "deleted 1 finished message(s) older than 90d" in run("purge_sms_messages", "--older-than", "90d")
        assert set(OutputSMSMessage.objects.values_list("pk", flat=True)) == {waiting.pk, recent.pk}

    @pytest.mark.parametrize("age", ["90", "ninety days", "-5d", "3y"])
    def test_a_bad_age_is_a_command_error(self, age: str) -> None:
        """The age must be a number and a unit; anything else is refused with the accepted form."""
        with pytest.raises(CommandError, match="is not a duration"):
            run("purge_sms_messages", f"--older-than={age}")
