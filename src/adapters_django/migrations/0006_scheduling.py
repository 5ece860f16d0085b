"""Scheduled sending: ``send_at`` and ``deferred_reason``; every message gets a due time (``next_attempt_at``, its
creation time where it had none) and the claim index is read per priority in due-time order."""

from django.db import migrations, models

SEND_AT = models.DateTimeField(blank=True, editable=False, null=True, verbose_name="scheduled for")
DEFERRED = models.CharField(blank=True, editable=False, max_length=255, null=True, verbose_name="deferred because")
CLAIM = models.Index(fields=["state", "priority", "next_attempt_at", "id"], name="smscore_msg_claim")


def _due_when_created(apps, schema_editor):  # type: ignore[no-untyped-def]
    message = apps.get_model("adapters_django", "OutputSMSMessage")
    message.objects.using(schema_editor.connection.alias).filter(next_attempt_at__isnull=True).update(
        next_attempt_at=models.F("created_at")
    )


class Migration(migrations.Migration):
    dependencies = [("adapters_django", "0005_template_is_active")]
    operations = [
        migrations.AddField("outputsmsmessage", "send_at", SEND_AT),
        migrations.AddField("outputsmsmessage", "deferred_reason", DEFERRED),
        migrations.RunPython(_due_when_created, migrations.RunPython.noop),
        migrations.RemoveIndex("outputsmsmessage", "smscore_msg_claim"),
        migrations.AddIndex("outputsmsmessage", CLAIM),
    ]
