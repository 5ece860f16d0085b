"""smscore's pytest plugin: the ``sms_outbox`` fixture, registered for every project that installs smscore (the
``pytest11`` entry point), as pytest-django registers ``mailoutbox``.

Importing this module imports neither Django nor the app, so projects that do not use Django are not affected.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from adapters_django.testing import SMSOutbox

__all__ = ["sms_outbox"]


@pytest.fixture
def sms_outbox() -> Iterator[SMSOutbox]:
    """The SMS the test's code stores for sending, none of them sent: :func:`adapters_django.testing.capture_sms`
    for the whole test."""
    from adapters_django.testing import capture_sms

    with capture_sms() as outbox:
        yield outbox
