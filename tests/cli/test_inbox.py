"""``smscore inbox``, ``smscore show in:ID`` and the inbound count of ``smscore stats``, on the default SQLite file
that the command line and an application share."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

import smscore
from smscore import InboundSMS
from tests.cli.conftest import CLI

PERSON = "+420777123456"
NOW = datetime.now(UTC)


@pytest.fixture
def received(cli: CLI) -> CLI:
    """A sent message and three SMS received, stored by an application in the directory's smscore.db."""
    url = f"sqlite:///{cli.cwd / 'smscore.db'}"
    with smscore.build_service({"storage": "sqlalchemy", "database_url": url}) as service:
        sent = service.send(PERSON, "Reply YES to confirm")
        for ref, content, sender, age in [
            ("SM1", "An old one", "+420777000111", timedelta(days=10)),
            ("SM2", "Yes", PERSON, timedelta(hours=1)),
            ("SM3", "STOP", PERSON, timedelta(minutes=5)),
        ]:
            sms = InboundSMS(
                provider="default",
                sender=sender,
                recipient="+15005550006",
                content=content,
                received_at=NOW - age,
                provider_ref=ref,
                reply_to=sent.id if ref == "SM2" else None,
            )
            service.inbound.add(sms)
    return cli


class TestInbox:
    def test_lists_the_newest_first_with_inbound_ids(self, received: CLI) -> None:
        """A table with in:N ids, newest first; --json has every field."""
        out = received.ok("inbox")
        lines = out.splitlines()
        assert lines[0].split()[:3] == ["ID", "RECEIVED", "(UTC)"]
        assert [line.split()[0] for line in lines[2:]] == ["in:3", "in:2", "in:1"]
        listed = json.loads(received.ok("inbox", "--json"))
        assert [sms["provider_ref"] for sms in listed] == ["SM3", "SM2", "SM1"]
        assert listed[1]["reply_to"] == 1
        assert listed[1]["received_at"].endswith("+00:00")

    def test_filters_by_age_sender_and_limit(self, received: CLI) -> None:
        """--since 1d leaves out the old one; --sender reads a national number as a recipient; --limit cuts."""
        recent = json.loads(received.ok("inbox", "--since", "1d", "--json"))
        assert [sms["content"] for sms in recent] == ["STOP", "Yes"]
        mine = json.loads(
            received.ok("inbox", "--sender", "777 000 111", "--json", env={"SMSCORE_DEFAULT_REGION": "CZ"})
        )
        assert [sms["content"] for sms in mine] == ["An old one"]
        assert len(json.loads(received.ok("inbox", "--limit", "1", "--json"))) == 1

    def test_an_empty_inbox_says_so(self, cli: CLI) -> None:
        """No SMS received yet: one line."""
        assert "no SMS received" in cli.ok("inbox")

    def test_show_in_id_prints_the_received_sms(self, received: CLI) -> None:
        """show in:2: one labelled line per field; the plain id still shows the sent message."""
        out = received.ok("show", "in:2")
        assert out.splitlines()[0].split() == ["id", "in:2"]
        assert "replies to" in out
        assert json.loads(received.ok("show", "in:2", "--json"))["content"] == "Yes"
        assert json.loads(received.ok("show", "1", "--json"))["content"] == "Reply YES to confirm"

    def test_show_of_a_missing_or_bad_inbound_id(self, received: CLI) -> None:
        """A missing inbound id is exit 1; in:x is exit 2."""
        assert "no inbound SMS with id 99" in received.fails("show", "in:99")
        assert "is not a whole number" in received.fails("show", "in:x", status=2)

    def test_stats_count_what_was_received(self, received: CLI) -> None:
        """A RECEIVED BY table under the messages; a row in --json."""
        assert "RECEIVED BY" in received.ok("stats")
        rows = json.loads(received.ok("stats", "--json"))
        assert {"inbound": "default", "count": 3} in rows
