"""A tiny shop: orders that SMS messages are linked to."""

from django.db import models


class Order(models.Model):
    """An order of the example shop."""

    number = models.CharField(max_length=20, unique=True)
    customer_name = models.CharField(max_length=100)
    phone = models.CharField(max_length=30)

    def __str__(self) -> str:
        return self.number
