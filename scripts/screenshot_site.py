"""Django settings of the site ``admin_screenshots.py`` photographs: the example project (examples/django_project)
with a provider whose delivery checks have something to say.

The database is the throw-away SQLite file named by ``$DEMO_DATABASE``; nothing leaves the machine.
"""

from __future__ import annotations

from collections.abc import Sequence

from demo.settings import *  # noqa: F403 - the example project, as its README runs it

from smscore import Outcome, SMSMessage, SMSState
from smscore.testing import ScriptedProvider

DEBUG = True  # runserver serves the admin's static files
PYMESS_SMS_SENDER_BACKEND = "screenshot_site:DeliveringProvider"


class DeliveringProvider(ScriptedProvider):
    """Accepts every message in SENDING; asked about delivery, reports every message DELIVERED."""

    def __init__(self, **options: object) -> None:
        super().__init__(default_state=SMSState.SENDING)

    def bulk_check_sms_states(self, messages: Sequence[SMSMessage]) -> list[Outcome | None]:
        """Every message asked about has arrived."""
        return [Outcome.accepted(SMSState.DELIVERED) for _ in messages]
