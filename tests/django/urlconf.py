"""URLs of the test project: the admin, and the SMS app's status callbacks under ``sms/``."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("sms/", include("adapters_django.urls")),
]
