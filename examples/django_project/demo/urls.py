"""URLs of the example project: the admin, and the endpoint providers post status reports to.

With ``PYMESS_SMS_PUBLIC_BASE_URL = "https://example.com/sms"`` a Twilio provider named ``default`` is told to
post its status callbacks to ``https://example.com/sms/status/default/``, which the include below serves.
"""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("sms/", include("adapters_django.urls")),
]
