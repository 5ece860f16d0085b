"""(state, id): the idle time-out pages through one in-flight state in id order."""

from django.db import migrations, models

STATE = models.Index(fields=["state", "id"], name="smscore_msg_state")


class Migration(migrations.Migration):
    dependencies = [("adapters_django", "0003_outbox_indexes")]
    operations = [migrations.AddIndex("outputsmsmessage", STATE)]
