"""``python manage.py send_demo_sms``: send two SMS the seed's way and show what was stored."""

from typing import Any

from django.core.management.base import BaseCommand

import adapters_django
from adapters_django.models import OutputSMSMessage, SMSTemplate
from shop.models import Order


class Command(BaseCommand):
    help = "Send a plain SMS and a template SMS for a demo order through the dummy backend, then list them."

    def handle(self, *args: Any, **options: Any) -> None:
        order, _ = Order.objects.get_or_create(
            number="DEMO-1", defaults={"customer_name": "Žofie Nováková", "phone": "777 123 456"}
        )
        SMSTemplate.objects.update_or_create(
            slug="order-shipped",
            defaults={"body": "Hello {{ name }}, your order {{ number }} is on its way & arrives tomorrow."},
        )

        plain = adapters_django.send(
            order.phone, "Děkujeme za objednávku!", related_objects=[order], tag="order-placed", channel="demo"
        )
        templated = adapters_django.send_template(
            order.phone,
            "order-shipped",
            {"name": order.customer_name, "number": order.number},
            related_objects=[order],
            tag="order-shipped",
        )
        assert templated is not None  # the shipped template's can_send always agrees

        for message in (plain, templated):
            self.stdout.write(
                f"#{message.pk} {message.state.upper()} to {message.recipient} [{message.tag}] {message.content!r}"
            )
        linked = OutputSMSMessage.objects.filter_related_object(order).count()
        self.stdout.write(f"messages linked to order {order.number}: {linked}")
        self.stdout.write("see them in the admin: python manage.py createsuperuser && python manage.py runserver")
