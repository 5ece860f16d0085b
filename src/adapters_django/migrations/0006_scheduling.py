# Scheduled sending: send_at and deferred_reason; every message gets a due time (next_attempt_at, its creation
# time where it had none) and the claim index is read per priority in due-time order.

from django.db import migrations, models


def _due_when_created(apps, schema_editor):  # type: ignore[no-untyped-def]
    message = apps.get_model("adapters_django", "OutputSMSMessage")
    message.objects.using(schema_editor.connection.alias).filter(next_attempt_at__isnull=True).update(
        next_attempt_at=models.F("created_at")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("adapters_django", "0005_template_is_active"),
    ]

    operations = [
        migrations.AddField(
            model_name="outputsmsmessage",
            name="send_at",
            field=models.DateTimeField(blank=True, editable=False, null=True, verbose_name="scheduled for"),
        ),
        migrations.AddField(
            model_name="outputsmsmessage",
            name="deferred_reason",
            field=models.CharField(
                blank=True, editable=False, max_length=255, null=True, verbose_name="deferred because"
            ),
        ),
        migrations.RunPython(_due_when_created, migrations.RunPython.noop),
        migrations.RemoveIndex(
            model_name="outputsmsmessage",
            name="smscore_msg_claim",
        ),
        migrations.AddIndex(
            model_name="outputsmsmessage",
            index=models.Index(fields=["state", "priority", "next_attempt_at", "id"], name="smscore_msg_claim"),
        ),
    ]
