"""SMS providers: dummy, Amazon SNS, Twilio, ATS and SMS-operator, each an :class:`smscore.SMSProvider`.

Choose one by alias in the configuration (``dummy``, ``sns``, ``twilio``, ``ats``, ``sms-operator``) or by dotted
path; modules import their SDK only when used, and a missing SDK is reported with the extra to install.
"""
