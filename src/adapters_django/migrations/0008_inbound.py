"""The SMS received: ``InputSMSMessage``, one per provider and provider reference."""

from django.db import migrations, models

ID = ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID"))
FIELDS = [
    ID,
    ("provider", models.CharField(max_length=100, verbose_name="provider")),
    ("sender", models.CharField(db_index=True, max_length=32, verbose_name="sender")),
    ("recipient", models.CharField(max_length=32, verbose_name="recipient")),
    ("content", models.TextField(verbose_name="content")),
    ("received_at", models.DateTimeField(db_index=True, verbose_name="received at")),
    ("provider_ref", models.CharField(max_length=100, verbose_name="provider reference")),
    ("reply_to", models.BigIntegerField(blank=True, null=True, verbose_name="replies to message")),
    ("extra_data", models.JSONField(blank=True, default=dict, verbose_name="extra data")),
]
OPTIONS = {"verbose_name": "inbound SMS", "verbose_name_plural": "inbound SMS", "ordering": ("-id",)}
REF_KEY = models.UniqueConstraint(fields=("provider", "provider_ref"), name="smscore_inbound_ref")


class Migration(migrations.Migration):
    dependencies = [("adapters_django", "0007_opt_outs")]
    operations = [
        migrations.CreateModel("InputSMSMessage", FIELDS, options=OPTIONS),
        migrations.AddConstraint("inputsmsmessage", REF_KEY),
    ]
