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

import httpx

from providers._gateway_wire import check_prefix
from providers._sms_operator_wire import (
    DEFAULT_URL,
    SMS_OPERATOR_CODES,
    SMSOperatorResponseError,
    SMSOperatorWire,
)
from providers._urls import check_url
from providers._xml_gateway import XMLGatewayBackend, gateway_options
from providers.options import OptionSpec

__all__ = ["DEFAULT_URL", "OPTIONS", "SMS_OPERATOR_CODES", "SMSOperatorBackend", "SMSOperatorResponseError"]

#: Every option of the SMS-operator backend (the table of the module docstring).
OPTIONS: Final[OptionSpec] = gateway_options("SMS-operator", DEFAULT_URL)


class SMSOperatorBackend(XMLGatewayBackend):
    """Sends through the SMS-operator XML web service with the ``httpx.Client`` it is given.

    ``publish`` and ``bulk_check_sms_states`` never raise: every failure is an outcome. The client is used for
    every request (keep-alive) and closed by :meth:`close`; :meth:`from_options` builds one.
    """

    log: ClassVar[logging.Logger] = logging.getLogger(__name__)
    option_spec: ClassVar[OptionSpec] = OPTIONS

    def __init__(
        self,
        client: httpx.Client,
        *,
        username: str,
        password: str,
        url: str = DEFAULT_URL,
        uniq_prefix: str = "",
        max_batch_size: int = 100,
        not_found_grace: float = 60.0,
        timeout: float = 5.0,
    ) -> None:
        wire = SMSOperatorWire(username=username, password=password, prefix=check_prefix(uniq_prefix))
        super().__init__(
            client,
            wire=wire,
            url=check_url(url),
            max_batch_size=max_batch_size,
            not_found_grace=not_found_grace,
            timeout=timeout,
        )
