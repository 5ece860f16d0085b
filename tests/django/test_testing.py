"""adapters_django.testing: a project's tests see the SMS their code sends, and none is sent; the README's example
runs verbatim through pytest with the plugin as installed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import transaction
from django.test import override_settings

import adapters_django
from adapters_django.models import SMSTemplate
from adapters_django.testing import SMSOutbox, capture_sms
from providers.dummy import DummySMSBackend
from smscore.testing import ScriptedProvider

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def send_then_fail(content: str) -> None:
    """A caller whose transaction stores a message and then fails."""
    with transaction.atomic():
        adapters_django.send("+420777123456", content)
        raise RuntimeError("the caller's work failed")


@pytest.mark.django_db
class TestFixture:
    def test_every_message_stored_for_sending_is_in_the_outbox_in_order(self, sms_outbox: SMSOutbox) -> None:
        """The fixture captures what the code sends, oldest first, inside the test's transaction too (where
        publishing waits for the commit)."""
        adapters_django.send("+420777123456", "first", tag="otp")
        adapters_django.send("+420777654321", "second")
        assert [(m.recipient, m.content, m.tag) for m in sms_outbox] == [
            ("+420777123456", "first", "otp"),
            ("+420777654321", "second", None),
        ]
        assert [m.state for m in sms_outbox] == ["waiting", "waiting"]

    def test_no_provider_is_called(self, sms_outbox: SMSOutbox) -> None:
        """The configured backend is replaced for the test: nothing reaches it."""
        assert isinstance(adapters_django.get_service().providers["default"], ScriptedProvider)

    def test_refused_and_repeated_sends_are_not_captured(self, sms_outbox: SMSOutbox) -> None:
        """A send that stores nothing (can_send refuses, an idempotency key already used) adds nothing."""
        SMSTemplate.objects.create(slug="otp", body="{{ code }}")
        adapters_django.send("+420777123456", "once", idempotency_key="order-1")
        adapters_django.send("+420777123456", "once", idempotency_key="order-1")
        assert adapters_django.send_template("+420777123456", "otp", {"code": "1"}) is not None
        assert [m.content for m in sms_outbox] == ["once", "1"]

    def test_a_message_whose_transaction_rolled_back_is_not_in_the_outbox(self, sms_outbox: SMSOutbox) -> None:
        """Rolled back means never sent: the outbox reads what is stored."""
        with pytest.raises(RuntimeError, match="failed"):
            send_then_fail("rolled back")
        adapters_django.send("+420777123456", "kept")
        assert [m.content for m in sms_outbox] == ["kept"]

    def test_clear_forgets_what_was_captured(self, sms_outbox: SMSOutbox) -> None:
        """As ``mail.outbox = []``: the outbox starts again."""
        adapters_django.send("+420777123456", "before")
        sms_outbox.clear()
        adapters_django.send("+420777123456", "after")
        assert [m.content for m in sms_outbox] == ["after"]


@pytest.mark.django_db(transaction=True)
class TestContextManager:
    def test_outside_a_transaction_messages_are_sent_by_the_accepting_backend(self) -> None:
        """Published at once, they end SENT; related objects are there to look at."""
        with capture_sms() as outbox:
            sent = adapters_django.send(
                "+420777123456", "shipped", related_objects=[SMSTemplate.objects.create(slug="x", body="y")]
            )
        assert [m.pk for m in outbox] == [sent.pk]
        assert outbox[0].state == "sent"
        assert outbox[0].related_objects.count() == 1

    @override_settings(
        PYMESS_SMS_BACKENDS={"default": {"backend": "dummy"}, "cz": {"backend": "ats", "config": {"USERNAME": "x"}}},
        PYMESS_SMS_BACKEND_ROUTER={"prefixes": {"+420": "cz"}},
    )
    def test_backend_names_and_routing_are_kept(self) -> None:
        """Each named backend is replaced under its own name, options dropped, so the router's choice shows."""
        with capture_sms() as outbox:
            adapters_django.send("+420777123456", "to cz")
            adapters_django.send("+421901123456", "to default")
        assert [(m.provider, m.state) for m in outbox] == [("cz", "sent"), ("default", "sent")]

    def test_the_projects_backends_are_back_after_the_block(self) -> None:
        """Leaving the block restores the settings, and the service is rebuilt from them."""
        with capture_sms():
            assert isinstance(adapters_django.get_service().providers["default"], ScriptedProvider)
        assert isinstance(adapters_django.get_service().providers["default"], DummySMSBackend)
        assert adapters_django.send("+420777123456", "after").state == "debug"


def test_the_readme_example_runs_verbatim_with_the_installed_plugin(tmp_path: Path) -> None:
    """The README's test module, as written, passes under pytest: the fixture comes from the plugin entry point."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    (block,) = [b for b in blocks if "sms_outbox" in b]
    module = tmp_path / "test_sms.py"
    module.write_text(block, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(module), "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(ROOT), "-q"],
        cwd=ROOT,
        env={name: value for name, value in os.environ.items() if not name.startswith("PYTEST_")},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout
