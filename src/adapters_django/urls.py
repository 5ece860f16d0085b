"""URLs of the SMS app: the status-callback and inbound views (see :mod:`adapters_django.views`).

Include them under the path ``PYMESS_SMS_PUBLIC_BASE_URL`` points at::

    path("sms/", include("adapters_django.urls"))        # PYMESS_SMS_PUBLIC_BASE_URL = "https://example.com/sms"

``reverse("smscore:status_callback", kwargs={"provider": "default"})`` is then ``/sms/status/default/``, and
``reverse("smscore:inbound", kwargs={"provider": "default"})`` ``/sms/inbound/default/``.
"""

from __future__ import annotations

from django.urls import path

from adapters_django import views

app_name = "smscore"

urlpatterns = [
    path("status/<str:provider>/", views.status_callback, name="status_callback"),
    path("inbound/<str:provider>/", views.inbound, name="inbound"),
]
