"""The opt-out list, the refusal totals, and the index recipient limits count from."""

import django.utils.timezone
from django.db import migrations, models

ID = ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID"))
OPT_OUT_FIELDS = [
    ID,
    ("recipient", models.CharField(max_length=32, unique=True, verbose_name="phone number")),
    ("reason", models.CharField(blank=True, max_length=200, null=True, verbose_name="reason")),
    ("source", models.CharField(default="admin", max_length=50, verbose_name="source")),
    ("created_at", models.DateTimeField(default=django.utils.timezone.now, verbose_name="opted out at")),
]
OPT_OUT_OPTIONS = {"verbose_name": "SMS opt-out", "verbose_name_plural": "SMS opt-outs", "ordering": ("recipient",)}
REFUSAL_FIELDS = [
    ID,
    ("reason", models.CharField(max_length=20, verbose_name="reason")),
    ("tag", models.CharField(blank=True, default="", max_length=50, verbose_name="tag")),
    ("count", models.PositiveBigIntegerField(default=0, verbose_name="refused")),
]
REFUSAL_OPTIONS = {"verbose_name": "SMS refusal count", "verbose_name_plural": "SMS refusal counts"}
LIMIT_INDEX = models.Index(fields=["recipient", "tag", "created_at"], name="smscore_msg_recipient_tag")
REFUSAL_KEY = models.UniqueConstraint(fields=("reason", "tag"), name="smscore_refusal_reason_tag")


class Migration(migrations.Migration):
    dependencies = [("adapters_django", "0006_scheduling")]
    operations = [
        migrations.CreateModel("SMSOptOut", OPT_OUT_FIELDS, options=OPT_OUT_OPTIONS),
        migrations.CreateModel("SMSRefusalCount", REFUSAL_FIELDS, options=REFUSAL_OPTIONS),
        migrations.AddIndex("outputsmsmessage", LIMIT_INDEX),
        migrations.AddConstraint("smsrefusalcount", REFUSAL_KEY),
    ]
