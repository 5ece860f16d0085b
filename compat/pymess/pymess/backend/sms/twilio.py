"""The ancestor's path of the Twilio backend: smscore's :class:`providers.twilio.TwilioSMSBackend`."""

from providers.twilio import TwilioSMSBackend

__all__ = ["TwilioSMSBackend"]
