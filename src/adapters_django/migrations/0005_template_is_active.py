# Templates can be switched off; every existing template stays active.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("adapters_django", "0004_state_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="smstemplate",
            name="is_active",
            field=models.BooleanField(
                default=True, help_text="An inactive template refuses to send.", verbose_name="active"
            ),
        ),
    ]
