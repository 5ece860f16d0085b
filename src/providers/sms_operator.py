"""SMS-operator (sms-operator.cz) gateway: XML over HTTPS, many messages per request, status by our own id.

Configure it by alias::

    build_service({"provider": "sms-operator", "provider_options": {
        "username": "...", "password": "...", "uniq_prefix": "shop",
    }})

===============  ========  ==================================================================================
option           default   meaning
===============  ========  ==================================================================================
username         required  account name (sent inside the XML body)
password         required  account password (sent inside the XML body; never logged or shown)
url              HTTPS     gateway address; default ``https://www.sms-operator.cz/webservices/webservice.aspx``
uniq_prefix      ""        our id on the wire (``SmsId``) is ``<prefix>-<message id>`` (just the id when empty)
timeout          5         seconds one whole request may take: connecting, sending, the whole answer
max_batch_size   100       most messages per request (publishing and status checks)
not_found_grace  60        seconds a message must have been UNKNOWN before "not found" (15) sends it back to
                           WAITING: a request that timed out may still be processed
===============  ========  ==================================================================================

Outcomes: a send acknowledged with status 0 or 11-14 is SENDING (never DELIVERED on the spot); statuses 1-7 and
10 are ERROR with their label; see :mod:`providers._sms_operator_wire` for the whole table and
:mod:`providers._http` for how network failures are classified. ``bulk_check_sms_states`` sends ``SMS-Status``
requests: 0 is DELIVERED, 15 (not found) sends a message left UNKNOWN back to WAITING.
"""

from __future__ import annotations

import logging
from typing import ClassVar, Final

from providers._sms_operator_wire import (
    DEFAULT_URL,
    SMS_OPERATOR_CODES,
    SMSOperatorResponseError,
    SMSOperatorWire,
)
from providers._xml_gateway import XMLGatewayBackend, gateway_options
from providers.options import OptionSpec

__all__ = ["DEFAULT_URL", "OPTIONS", "SMS_OPERATOR_CODES", "SMSOperatorBackend", "SMSOperatorResponseError"]

#: Every option of the SMS-operator backend (the table of the module docstring).
OPTIONS: Final[OptionSpec] = gateway_options("SMS-operator", DEFAULT_URL)


class SMSOperatorBackend(XMLGatewayBackend):
    """Sends through the SMS-operator XML web service with the ``httpx.Client`` it is given, taking the keyword
    arguments of :class:`~providers._xml_gateway.GatewayOptions` (see the module docstring)."""

    log: ClassVar[logging.Logger] = logging.getLogger(__name__)
    option_spec: ClassVar[OptionSpec] = OPTIONS
    default_url: ClassVar[str] = DEFAULT_URL

    def _make_wire(self, username: str, password: str, prefix: str) -> SMSOperatorWire:
        return SMSOperatorWire(username=username, password=password, prefix=prefix)
