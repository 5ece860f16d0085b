"""Templates can be switched off; every existing template stays active."""

from django.db import migrations, models

ACTIVE = models.BooleanField(default=True, help_text="An inactive template refuses to send.", verbose_name="active")


class Migration(migrations.Migration):
    dependencies = [("adapters_django", "0004_state_index")]
    operations = [migrations.AddField("smstemplate", "is_active", ACTIVE)]
