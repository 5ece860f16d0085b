"""django-pymess's SMS API on top of smscore: install this distribution in place of django-pymess and the
project's ``pymess`` imports, ``INSTALLED_APPS`` entry, settings and backend paths keep working.

- :mod:`pymess.backend.sms`: ``send`` (returns the ``failed`` flag, as the ancestor did) and ``send_template``;
- :mod:`pymess.models.sms`: ``OutputSMSMessage``, ``OutputSMSRelatedObject``, ``AbstractSMSTemplate`` and
  ``SMSTemplate``, which are smscore's own Django models (:mod:`adapters_django.models`), not copies;
- ``pymess.backend.sms.{dummy,sns,twilio,ats_sms_operator,sms_operator}``: the backend classes by their old paths;
- ``"pymess"`` in ``INSTALLED_APPS`` installs smscore's Django app (:mod:`pymess.apps`).

The differences from django-pymess, and why, are listed in this distribution's README.
"""

__version__ = "0.1.0"
