"""django-pymess 0.7.6's SMS tables, as its migrations 0001-0027 leave them, for the import tests.

The three tables ``import_pymess`` reads are written out as Django models in a registry of their own (never
installed, so ``makemigrations`` and the test database ignore them), field for field from the ancestor's final
models (fact sheet §2.1): Django's schema editor then creates them with exactly the column types, nullability,
indexes and foreign keys the ancestor's migrations produce on each database. The timestamps are plain
``DateTimeField`` here (the ancestor's ``auto_now_add``/``auto_now`` change no column) so tests can write history.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.apps.registry import Apps
from django.db import connections, models

__all__ = ["AncestorMessage", "AncestorRelatedObject", "AncestorTemplate", "ancestor_tables"]

_registry = Apps(installed_apps=())


class _ContentType(models.Model):
    """Django's content-type table, only so the related objects' foreign key points at it."""

    app_label = models.CharField(max_length=100)
    model = models.CharField(max_length=100)

    class Meta:
        apps = _registry
        app_label = "contenttypes"
        db_table = "django_content_type"
        managed = False


class AncestorTemplate(models.Model):
    """``pymess_smstemplate``: slug is the primary key; body may be NULL; three flags (0006, 0008, 0025)."""

    slug = models.SlugField(max_length=100, primary_key=True, editable=False)
    created_at = models.DateTimeField(db_index=True)
    changed_at = models.DateTimeField(db_index=True)
    body = models.TextField(null=True, blank=False)
    is_active = models.BooleanField(default=True)
    is_locked = models.BooleanField(default=False)
    is_allowed_duplicate_messages = models.BooleanField(default=True)

    class Meta:
        apps = _registry
        app_label = "pymess"
        db_table = "pymess_smstemplate"


class AncestorMessage(models.Model):
    """``pymess_outputsmsmessage``: integer states 1-9 (indexed since 0019), attempts (0016), priority (0021),
    JSON columns (0022), the backend's dotted class path."""

    created_at = models.DateTimeField(db_index=True)
    changed_at = models.DateTimeField(db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    recipient = models.CharField(max_length=20, db_index=True)
    sender = models.CharField(max_length=20, null=True, blank=True)
    content = models.TextField(max_length=700)
    template = models.ForeignKey(
        AncestorTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="output_sms_messages"
    )
    template_slug = models.SlugField(max_length=100, null=True, blank=True, editable=False)
    state = models.IntegerField(editable=False, db_index=True)
    backend = models.CharField(max_length=250, null=True, blank=True, editable=False)
    error = models.TextField(null=True, blank=True)
    extra_data = models.JSONField(null=True, blank=True)
    extra_sender_data = models.JSONField(null=True, blank=True)
    tag = models.SlugField(null=True, blank=True)
    number_of_send_attempts = models.PositiveIntegerField(default=0)
    priority = models.PositiveSmallIntegerField(default=3)

    class Meta:
        apps = _registry
        app_label = "pymess"
        db_table = "pymess_outputsmsmessage"


class AncestorRelatedObject(models.Model):
    """``pymess_outputsmsrelatedobject``: content type and text object id (``object_id_int`` dropped in 0016)."""

    created_at = models.DateTimeField(db_index=True)
    changed_at = models.DateTimeField(db_index=True)
    content_type = models.ForeignKey(_ContentType, on_delete=models.CASCADE)
    object_id = models.TextField(db_index=True)
    output_sms_message = models.ForeignKey(AncestorMessage, on_delete=models.CASCADE, related_name="related_objects")

    class Meta:
        apps = _registry
        app_label = "pymess"
        db_table = "pymess_outputsmsrelatedobject"


_TABLES = (AncestorTemplate, AncestorMessage, AncestorRelatedObject)


@contextmanager
def ancestor_tables(using: str = "default") -> Iterator[None]:
    """Create the three tables in database ``using`` for the block, then drop them."""
    connection = connections[using]
    with connection.schema_editor() as editor:
        for model in _TABLES:
            editor.create_model(model)
    try:
        yield
    finally:
        with connection.schema_editor() as editor:
            for model in reversed(_TABLES):
                editor.delete_model(model)
