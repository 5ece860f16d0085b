"""The SMS models by their django-pymess names: smscore's own models (:mod:`adapters_django.models`), re-exported.

They are the same classes, so ``pymess.models.sms.OutputSMSMessage is adapters_django.models.OutputSMSMessage``:
one table, one admin, one set of migrations. A template model of the project's own extends
:class:`AbstractSMSTemplate` and is named in ``PYMESS_SMS_TEMPLATE_MODEL``, as before.
"""

from adapters_django.models import AbstractSMSTemplate, OutputSMSMessage, OutputSMSRelatedObject, SMSTemplate

__all__ = ["AbstractSMSTemplate", "OutputSMSMessage", "OutputSMSRelatedObject", "SMSTemplate"]
