"""The claim index in the order claims read (state, priority, id) and a partial index of leased messages."""

from django.db import migrations, models

CLAIM = models.Index(fields=["state", "priority", "id"], name="smscore_msg_claim")
LEASE = models.Index(
    condition=models.Q(("lease_expires_at__isnull", False)),
    fields=["state", "lease_expires_at"],
    name="smscore_msg_lease",
)


class Migration(migrations.Migration):
    dependencies = [("adapters_django", "0002_rate_limit")]
    operations = [
        migrations.RemoveIndex("outputsmsmessage", "smscore_msg_outbox"),
        migrations.AddIndex("outputsmsmessage", CLAIM),
        migrations.AddIndex("outputsmsmessage", LEASE),
    ]
