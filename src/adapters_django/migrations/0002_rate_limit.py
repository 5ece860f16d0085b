"""The rate-limit slots that processes sharing the database reserve from."""

from django.db import migrations, models

FIELDS = [
    ("key", models.CharField(max_length=100, primary_key=True, serialize=False, verbose_name="key")),
    ("next_free", models.DateTimeField(verbose_name="next free slot")),
]
OPTIONS = {"verbose_name": "SMS rate limit", "verbose_name_plural": "SMS rate limits"}


class Migration(migrations.Migration):
    dependencies = [("adapters_django", "0001_initial")]
    operations = [migrations.CreateModel("SMSRateLimit", FIELDS, options=OPTIONS)]
