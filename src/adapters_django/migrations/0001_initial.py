"""The tables of messages, their related objects and templates, with the indexes the outbox reads by."""

from __future__ import annotations

from typing import Any

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def _id_and_times() -> list[tuple[str, models.Field[Any, Any]]]:
    """The key and the creation and change times that templates and related objects share (new instances each
    call: a field belongs to one model)."""
    return [
        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
        (
            "created_at",
            models.DateTimeField(
                db_index=True, default=django.utils.timezone.now, editable=False, verbose_name="created at"
            ),
        ),
        ("changed_at", models.DateTimeField(auto_now=True, db_index=True, verbose_name="changed at")),
    ]


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        # A project's own template model (PYMESS_SMS_TEMPLATE_MODEL) must exist before the foreign key to it;
        # for the shipped model this is a reference to this app, which Django ignores.
        migrations.swappable_dependency(settings.PYMESS_SMS_TEMPLATE_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="SMSTemplate",
            fields=[
                *_id_and_times(),
                ("slug", models.SlugField(max_length=100, unique=True, verbose_name="slug")),
                ("body", models.TextField(verbose_name="body")),
            ],
            options={
                "verbose_name": "SMS template",
                "verbose_name_plural": "SMS templates",
                "ordering": ("slug",),
                "abstract": False,
                "swappable": "PYMESS_SMS_TEMPLATE_MODEL",
            },
        ),
        migrations.CreateModel(
            name="OutputSMSMessage",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "created_at",
                    models.DateTimeField(
                        db_index=True, default=django.utils.timezone.now, editable=False, verbose_name="created at"
                    ),
                ),
                (
                    "changed_at",
                    models.DateTimeField(
                        db_index=True, default=django.utils.timezone.now, editable=False, verbose_name="changed at"
                    ),
                ),
                ("sent_at", models.DateTimeField(blank=True, editable=False, null=True, verbose_name="sent at")),
                ("recipient", models.CharField(db_index=True, max_length=20, verbose_name="recipient")),
                ("sender", models.CharField(blank=True, max_length=20, null=True, verbose_name="sender")),
                ("content", models.TextField(verbose_name="content")),
                (
                    "template_slug",
                    models.SlugField(
                        blank=True, editable=False, max_length=100, null=True, verbose_name="template slug"
                    ),
                ),
                (
                    "state",
                    models.CharField(
                        choices=[
                            ("waiting", "Waiting"),
                            ("unknown", "Unknown"),
                            ("sending", "Sending"),
                            ("sent", "Sent"),
                            ("error", "Error"),
                            ("debug", "Debug"),
                            ("delivered", "Delivered"),
                        ],
                        default="waiting",
                        editable=False,
                        max_length=20,
                        verbose_name="state",
                    ),
                ),
                (
                    "backend",
                    models.CharField(blank=True, editable=False, max_length=250, null=True, verbose_name="backend"),
                ),
                (
                    "provider",
                    models.CharField(blank=True, editable=False, max_length=100, null=True, verbose_name="provider"),
                ),
                ("error", models.TextField(blank=True, null=True, verbose_name="error")),
                ("extra_data", models.JSONField(blank=True, default=dict, verbose_name="extra data")),
                (
                    "extra_sender_data",
                    models.JSONField(blank=True, default=dict, editable=False, verbose_name="extra sender data"),
                ),
                ("tag", models.SlugField(blank=True, null=True, verbose_name="tag")),
                (
                    "attempts",
                    models.PositiveIntegerField(default=0, editable=False, verbose_name="number of send attempts"),
                ),
                ("priority", models.PositiveSmallIntegerField(default=3, verbose_name="priority")),
                (
                    "provider_ref",
                    models.CharField(
                        blank=True, editable=False, max_length=255, null=True, verbose_name="provider's reference"
                    ),
                ),
                ("encoding", models.CharField(default="GSM-7", editable=False, max_length=10, verbose_name="encoding")),
                ("segments", models.PositiveIntegerField(default=1, editable=False, verbose_name="segments")),
                (
                    "idempotency_key",
                    models.CharField(
                        blank=True,
                        editable=False,
                        max_length=255,
                        null=True,
                        unique=True,
                        verbose_name="idempotency key",
                    ),
                ),
                (
                    "next_attempt_at",
                    models.DateTimeField(blank=True, editable=False, null=True, verbose_name="next attempt at"),
                ),
                (
                    "lease_expires_at",
                    models.DateTimeField(blank=True, editable=False, null=True, verbose_name="lease expires at"),
                ),
                (
                    "price",
                    models.DecimalField(
                        blank=True, decimal_places=10, editable=False, max_digits=20, null=True, verbose_name="price"
                    ),
                ),
                (
                    "price_unit",
                    models.CharField(blank=True, editable=False, max_length=16, null=True, verbose_name="price unit"),
                ),
                ("version", models.PositiveIntegerField(default=0, editable=False, verbose_name="version")),
                (
                    "template",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="output_sms_messages",
                        to=settings.PYMESS_SMS_TEMPLATE_MODEL,
                        verbose_name="template",
                    ),
                ),
            ],
            options={
                "verbose_name": "output SMS message",
                "verbose_name_plural": "output SMS messages",
                "ordering": ("-created_at", "-id"),
            },
        ),
        migrations.CreateModel(
            name="OutputSMSRelatedObject",
            fields=[
                *_id_and_times(),
                (
                    "object_id_int",
                    models.BigIntegerField(blank=True, db_index=True, null=True, verbose_name="object ID (integer)"),
                ),
                ("object_id", models.TextField(db_index=True, verbose_name="object ID")),
                (
                    "content_type",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        to="contenttypes.contenttype",
                        verbose_name="content type",
                    ),
                ),
                (
                    "output_sms_message",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="related_objects",
                        to="adapters_django.outputsmsmessage",
                        verbose_name="output SMS message",
                    ),
                ),
            ],
            options={
                "verbose_name": "output SMS related object",
                "verbose_name_plural": "output SMS related objects",
                "ordering": ("id",),
            },
        ),
        migrations.AddIndex(
            model_name="outputsmsmessage",
            index=models.Index(fields=["state", "provider"], name="smscore_msg_state_provider"),
        ),
        migrations.AddIndex(
            model_name="outputsmsmessage",
            index=models.Index(fields=["state", "next_attempt_at", "priority"], name="smscore_msg_outbox"),
        ),
        migrations.AddIndex(
            model_name="outputsmsmessage",
            index=models.Index(fields=["provider_ref"], name="smscore_msg_provider_ref"),
        ),
    ]
