"""The ancestor's path of the ATS (atspraha.cz) backend: smscore's :class:`providers.ats.ATSSMSBackend`."""

from providers.ats import ATSSMSBackend

__all__ = ["ATSSMSBackend"]
