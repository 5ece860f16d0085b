"""SMS for Django projects: the seed's API on top of the ``smscore`` core.

Add the app and send::

    INSTALLED_APPS = [..., "django.contrib.contenttypes", "adapters_django"]
    PYMESS_SMS_SENDER_BACKEND = "dummy"          # or "ats", "sms-operator", "sns", "twilio", a dotted path,
                                                 # or the ancestor's "pymess.backend.sms.ats_sms_operator.ATSSMSBackend"

    import adapters_django

    message = adapters_django.send("+420 777 123 456", "Your order shipped", related_objects=[order], tag="shipping")
    message.state, message.failed, message.related_objects.all()

    adapters_django.send_template("+420777123456", "otp", {"code": "1234"})   # None when can_send() refuses

What is where:

- :mod:`adapters_django.api`: :func:`send`, :func:`send_template`, and how they behave inside
  ``transaction.atomic()`` (the message is stored with the caller's transaction and published on commit);
- :mod:`adapters_django.models`: ``OutputSMSMessage``, ``OutputSMSRelatedObject``, ``AbstractSMSTemplate``,
  ``SMSTemplate``;
- :mod:`adapters_django.conf`: every ``PYMESS_*`` setting, with its default;
- :mod:`adapters_django.wiring`: :func:`get_service` (the core's service, built from the settings, for
  ``process_outbox``, ``check_delivery`` and the core's message values);
- :mod:`adapters_django.urls` and :mod:`adapters_django.views`: the status-callback view providers (Twilio) post
  delivery reports to; ``path("sms/", include("adapters_django.urls"))`` with
  ``PYMESS_SMS_PUBLIC_BASE_URL = "https://example.com/sms"``;
- :mod:`adapters_django.signals`: ``sms_state_changed``, sent for every state change of a message;
- :mod:`adapters_django.checks`: system checks naming the wrong setting;
- :mod:`adapters_django.repositories` and :mod:`adapters_django.template_repository`: the core's storage ports
  on the ORM (database errors raise the core's ``StorageError``, see :mod:`adapters_django.errors`);
- management commands ``check_sms_delivery`` (cron: delivery reports, idle timeout) and ``send_messages_batch``
  (the outbox worker step; also publishes messages left WAITING by a crash);
- the admin: messages with state badges, search and a "send again" action; templates with a preview.
"""

from adapters_django.api import send, send_template
from adapters_django.wiring import get_service

__all__ = ["get_service", "send", "send_template"]
