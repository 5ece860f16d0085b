"""The ancestor's path of the dummy backend (messages end in DEBUG, nothing is sent): smscore's :class:`providers.dummy.DummySMSBackend`."""

from providers.dummy import DummySMSBackend

__all__ = ["DummySMSBackend"]
