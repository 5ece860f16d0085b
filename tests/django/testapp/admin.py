from django.contrib import admin

from tests.django.testapp.models import Order

admin.site.register(Order)
