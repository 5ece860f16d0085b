"""ATS (atspraha.cz) SMS gateway: XML over HTTPS, many messages per request, delivery reports by our own id.

Configure it by alias::

    build_service({"provider": "ats", "provider_options": {
        "username": "...", "password": "...", "project_keyword": "KW", "output_sender_number": "90099",
        "uniq_prefix": "shop",
    }})

=====================  ========  =============================================================================
option                 default   meaning
=====================  ========  =============================================================================
username               required  account name (sent inside the XML body)
password               required  account password (sent inside the XML body; never logged or shown)
project_keyword        required  project keyword, the ``kw`` attribute
output_sender_number   required  default sender, the ``sender`` attribute (a message's own sender wins)
url                    HTTPS     gateway address; default ``https://fik.atspraha.cz/gwfcgi/XMLServerWrapper.fcgi``
uniq_prefix            ""        our id on the wire is ``<prefix>-<message id>`` (just the id when empty); use
                                 one prefix per application sharing an account
validity               60        the ``validity`` attribute (passed through as the ancestor did)
textid                 none      the ``textid`` attribute, sent only when set
optid                  none      operator id, sent as the ``opmid`` attribute (empty when not set)
timeout                5         seconds one whole request may take: connecting, sending, the whole answer
max_batch_size         100       most messages per request (publishing and delivery checks)
not_found_grace        60        seconds a message must have been UNKNOWN before "not found" (code 20) sends
                                 it back to WAITING: a request that timed out may still be processed
=====================  ========  =============================================================================

Outcomes: code 0 puts a message in SENDING, 22 in SENT, 23 in DELIVERED; per-message error codes are ERROR with
the code's label; see :mod:`providers._ats_wire` for the whole table and :mod:`providers._http` for how network
failures are classified. Delivery checks (``bulk_check_sms_states``) send ``<dlr>`` requests keyed by our id,
so a message left UNKNOWN by a failed request is resolved too: code 20 (not found) sends it back to WAITING.
"""

from __future__ import annotations

import functools
import logging
from typing import ClassVar, Final, Unpack

import httpx

from providers._ats_wire import ATS_CODES, DEFAULT_URL, ATSResponseError, ATSWire
from providers._xml_gateway import GatewayOptions, XMLGatewayBackend, gateway_options
from providers.options import Integer, Option, OptionSpec, Text

__all__ = ["ATS_CODES", "DEFAULT_URL", "OPTIONS", "ATSResponseError", "ATSSMSBackend"]

#: Every option of the ATS backend (the table of the module docstring).
OPTIONS: Final[OptionSpec] = gateway_options(
    "ATS",
    DEFAULT_URL,
    Option("project_keyword", Text(), required=True, description="project keyword, the ``kw`` attribute"),
    Option(
        "output_sender_number",
        Text(),
        required=True,
        description="default sender, the ``sender`` attribute (a message's own sender wins)",
    ),
    Option("validity", Integer(1), default=60, description="the ``validity`` attribute"),
    Option("textid", Text(), description="the ``textid`` attribute, sent only when set"),
    Option("optid", Text(), description="operator id, sent as the ``opmid`` attribute (empty when not set)"),
)


class ATSSMSBackend(XMLGatewayBackend):
    """Sends through the ATS XML gateway with the ``httpx.Client`` it is given (see the module docstring and
    :class:`~providers._xml_gateway.XMLGatewayBackend` for what every XML gateway shares)."""

    log: ClassVar[logging.Logger] = logging.getLogger(__name__)
    option_spec: ClassVar[OptionSpec] = OPTIONS
    default_url: ClassVar[str] = DEFAULT_URL

    def __init__(
        self,
        client: httpx.Client,
        *,
        project_keyword: str,
        output_sender_number: str,
        validity: int = 60,
        textid: str | None = None,
        optid: str | None = None,
        **gateway: Unpack[GatewayOptions],
    ) -> None:
        self._wire_of = functools.partial(
            ATSWire,
            sender=output_sender_number,
            keyword=project_keyword,
            validity=validity,
            textid=textid,
            opmid=optid or "",
        )
        super().__init__(client, **gateway)

    def _make_wire(self, username: str, password: str, prefix: str) -> ATSWire:
        return self._wire_of(username=username, password=password, prefix=prefix)
