"""The ancestor's aliases of the SMS helpers: ``send_sms`` and ``send_sms_template``."""

from pymess.backend.sms import send as send_sms
from pymess.backend.sms import send_template as send_sms_template

__all__ = ["send_sms", "send_sms_template"]
