"""``"pymess"`` in ``INSTALLED_APPS`` installs smscore's Django app, ``adapters_django``, under its own label.

The models live in ``adapters_django`` only: this config points Django at that app instead of registering a
second one, so there is one set of tables, migrations and management commands (``check_sms_delivery``,
``send_messages_batch --type=sms``, ``import_pymess``). List either ``"pymess"`` or ``"adapters_django"``,
never both (Django refuses a label twice).
"""

from __future__ import annotations

from types import ModuleType
from typing import Final

from adapters_django import apps as _smscore_apps
from adapters_django.conf import DEFAULT_TEMPLATE_MODEL

__all__ = ["PymessConfig"]

#: The ancestor's default template model, which is smscore's ``adapters_django.SMSTemplate`` here.
ANCESTOR_TEMPLATE_MODEL: Final = "pymess.SMSTemplate"


class PymessConfig(_smscore_apps.SMSCoreConfig):
    """smscore's app config, chosen by the ``"pymess"`` entry of ``INSTALLED_APPS``."""

    default = True
    name = "adapters_django"

    def __init__(self, app_name: str, app_module: ModuleType | None) -> None:
        super().__init__(app_name, app_module)
        adopt_ancestor_template_model()


def adopt_ancestor_template_model() -> None:
    """Read ``PYMESS_SMS_TEMPLATE_MODEL = "pymess.SMSTemplate"`` (the ancestor's default, often written out) as
    smscore's shipped template model.

    Runs while Django builds its app configs, before any model is imported, so the swappable template model and
    the messages' foreign key follow it.
    """
    from django.conf import settings

    label = getattr(settings, "PYMESS_SMS_TEMPLATE_MODEL", None)
    if isinstance(label, str) and label.lower() == ANCESTOR_TEMPLATE_MODEL.lower():
        settings.PYMESS_SMS_TEMPLATE_MODEL = DEFAULT_TEMPLATE_MODEL
