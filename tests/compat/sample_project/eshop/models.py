"""The sample shop's orders, which messages are linked to."""

from django.db import models


class Order(models.Model):
    """An order."""

    number = models.CharField(max_length=20)

    def __str__(self) -> str:
        return self.number
