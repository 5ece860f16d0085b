# The abstract template model gained is_active.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("testapp", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="guardedsmstemplate",
            name="is_active",
            field=models.BooleanField(
                default=True, help_text="An inactive template refuses to send.", verbose_name="active"
            ),
        ),
    ]
