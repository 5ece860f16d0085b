"""Sends the shop's messages with pymess's documented API and prints what was stored."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from pymess.backend.sms import send, send_template
from pymess.models.sms import OutputSMSMessage, OutputSMSRelatedObject, SMSTemplate

from eshop.models import Order


class Command(BaseCommand):
    help = "Send the order messages."

    def handle(self, *args: Any, **options: Any) -> None:
        order = Order.objects.create(number="S-1")
        if send("777 123 456", "Objednávka přijata", related_objects=[order], tag="order-placed", number="S-1"):
            raise CommandError("the order-placed SMS failed")
        SMSTemplate.objects.create(slug="order-shipped", body="Order {{ number }} shipped & on its way")
        sent = send_template("+420777123456", "order-shipped", {"number": order.number}, related_objects=[order])
        if sent is None or sent.failed:
            raise CommandError("the order-shipped SMS was not sent")
        SMSTemplate.objects.create(slug="order-survey", body="How did we do?", is_active=False)
        if send_template("+420777123456", "order-survey", {}, related_objects=[order]) is not None:
            raise CommandError("an inactive template sent a message")
        for message in OutputSMSMessage.objects.order_by("created_at", "pk"):
            objects = [str(related.content_object) for related in message.related_objects.all()]
            self.stdout.write(
                f"{message.recipient} {message.state} {message.template_slug} {message.content!r} "
                f"failed={message.failed} extra={message.extra_data} related={objects} backend={message.backend}"
            )
        linked = OutputSMSRelatedObject.objects.filter(object_id=str(order.pk)).count()
        self.stdout.write(f"linked to {order}: {linked}")
