"""The ancestor's path of the SMS-operator (sms-operator.cz) backend: smscore's :class:`providers.sms_operator.SMSOperatorBackend`."""

from providers.sms_operator import SMSOperatorBackend

__all__ = ["SMSOperatorBackend"]
