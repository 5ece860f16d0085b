"""The ancestor's path of the Amazon SNS backend: smscore's :class:`providers.sns.SNSSMSBackend`."""

from providers.sns import SNSSMSBackend

__all__ = ["SNSSMSBackend"]
