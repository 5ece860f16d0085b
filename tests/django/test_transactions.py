"""Sending inside the caller's transaction: the message is stored with it and published only after it commits.

A rollback leaves neither a record nor a sent SMS; a commit is followed by the send; the provider is never called
while a transaction is open. Run on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction

import adapters_django
from adapters_django.models import OutputSMSMessage, SMSTemplate
from smscore import Outcome
from tests.django.support import install_spy
from tests.django.testapp.models import Order
from tests.django.testapp.providers import TransactionSpyProvider

DATABASES = [
    pytest.param("default", marks=pytest.mark.django_db(transaction=True), id="sqlite"),
    pytest.param(
        "postgres",
        marks=[pytest.mark.django_db(transaction=True, databases=["postgres"]), pytest.mark.postgres],
        id="postgres",
    ),
]


@pytest.fixture(params=DATABASES)
def alias(request: pytest.FixtureRequest, settings: Any) -> str:
    """The database the SMS messages live in (``PYMESS_SMS_DATABASE``)."""
    name: str = request.param
    if name == "postgres":
        request.getfixturevalue("postgres")
    settings.PYMESS_SMS_DATABASE = name
    return name


def messages(alias: str) -> Any:
    return OutputSMSMessage.objects.using(alias)


class TestInsideATransaction:
    def test_commit_stores_then_sends_after_the_commit(self, alias: str, spy: TransactionSpyProvider) -> None:
        """Inside atomic the message is WAITING and unsent; right after the commit it is sent."""
        with transaction.atomic(using=alias):
            message = adapters_django.send("+420777123456", "Paid", tag="payment")
            assert message.state == "waiting"
            assert spy.published == []
        assert [m.content for m in spy.published] == ["Paid"]
        assert spy.in_transaction == [False]
        message.refresh_from_db(using=alias)
        assert (message.state, message.attempts, message.lease_expires_at) == ("sent", 1, None)

    def test_rollback_leaves_no_record_and_sends_nothing(self, alias: str, spy: TransactionSpyProvider) -> None:
        """A rolled-back transaction takes the message with it, and nothing reaches the provider."""
        order = Order.objects.using(alias).create(number="A-1")

        def pay() -> None:
            with transaction.atomic(using=alias):
                adapters_django.send("+420777123456", "Paid", related_objects=[order])
                raise RuntimeError("payment failed later in the request")

        with pytest.raises(RuntimeError):
            pay()
        assert not messages(alias).exists()
        assert spy.published == []

    def test_a_template_send_is_deferred_too(self, alias: str, spy: TransactionSpyProvider) -> None:
        """send_template inside atomic follows the same rule."""
        SMSTemplate.objects.using(alias).create(slug="otp", body="Code {{ code }}")
        with transaction.atomic(using=alias):
            message = adapters_django.send_template("+420777123456", "otp", {"code": "1"})
            assert message is not None
            assert spy.published == []
        message.refresh_from_db(using=alias)
        assert (message.state, message.content, [m.content for m in spy.published]) == ("sent", "Code 1", ["Code 1"])

    def test_a_failed_publish_after_commit_keeps_the_record(self, alias: str, spy: TransactionSpyProvider) -> None:
        """The commit stands whatever the provider says; a rejection is stored on the committed message."""
        spy.will(Outcome.rejected("blocked"))
        with transaction.atomic(using=alias):
            message = adapters_django.send("+420777123456", "Paid")
        message.refresh_from_db(using=alias)
        assert (message.state, message.error, message.failed) == ("error", "blocked", True)

    def test_a_message_left_waiting_is_published_by_the_batch_command(
        self, alias: str, spy: TransactionSpyProvider
    ) -> None:
        """If the process dies between the commit and the publish, send_messages_batch publishes the message."""
        with transaction.atomic(using=alias):
            message = adapters_django.send("+420777123456", "Paid")
            # What a crash after the commit looks like: the on-commit publish never runs.
            transaction.get_connection(alias).run_on_commit.clear()
        message.refresh_from_db(using=alias)
        assert message.state == "waiting"
        call_command("send_messages_batch", stdout=open_devnull())
        message.refresh_from_db(using=alias)
        assert message.state == "sent"
        assert [m.id for m in spy.published] == [message.id]


class TestBatchSending:
    @pytest.fixture
    def spy(self, alias: str, settings: Any) -> TransactionSpyProvider:
        settings.PYMESS_SMS_BATCH_SENDING = True
        return install_spy(settings)

    def test_batch_mode_stores_waiting_and_the_command_publishes(self, alias: str, spy: TransactionSpyProvider) -> None:
        """With PYMESS_SMS_BATCH_SENDING the commit publishes nothing; the outbox command does."""
        with transaction.atomic(using=alias):
            message = adapters_django.send("+420777123456", "Later")
        assert spy.published == []
        call_command("send_messages_batch", "--type=sms", stdout=open_devnull())
        message.refresh_from_db(using=alias)
        assert message.state == "sent"
        assert spy.in_transaction == [False]

    def test_send_immediately_publishes_after_the_commit_even_in_batch_mode(
        self, alias: str, spy: TransactionSpyProvider
    ) -> None:
        """send_immediately=True overrides batch mode, still only after the commit."""
        with transaction.atomic(using=alias):
            message = adapters_django.send("+420777123456", "Now", send_immediately=True)
            assert spy.published == []
        message.refresh_from_db(using=alias)
        assert message.state == "sent"
        assert spy.in_transaction == [False]


def open_devnull() -> io.StringIO:
    return io.StringIO()


@pytest.mark.django_db
def test_in_a_test_case_the_send_happens_when_on_commit_callbacks_run(
    spy: TransactionSpyProvider, django_capture_on_commit_callbacks: Any
) -> None:
    """Django's TestCase never commits; capturing the on-commit callbacks with execute=True publishes."""
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        message = adapters_django.send("+420777123456", "Hi")
        assert message.state == "waiting"
    assert len(callbacks) == 1
    message.refresh_from_db()
    assert message.state == "sent"
    assert spy.in_transaction == [True]  # the test's own transaction, which a real request would have committed
