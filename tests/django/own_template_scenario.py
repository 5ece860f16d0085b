"""Run in a subprocess with ``tests.django.settings_own_template`` after ``migrate``: exercises a project's own
template model end to end and prints what it saw as JSON for the calling test to check."""

from __future__ import annotations

import json

import django


def main() -> None:
    django.setup()
    from django.contrib import admin
    from django.core import checks

    import adapters_django
    from adapters_django.admin import SMSTemplateAdmin
    from adapters_django.models import OutputSMSMessage, SMSTemplate, get_template_model
    from tests.django.testapp.models import GuardedSMSTemplate

    template = GuardedSMSTemplate.objects.create(
        slug="news", body="hello {{ name }}", signature="-- ACME", blocked_recipients=["+420777000111"]
    )
    refused = adapters_django.send_template("+420777000111", "news", {"name": "Eve"})
    stored_after_refusal = OutputSMSMessage.objects.count()
    sent = adapters_django.send_template("+420777123456", "news", {"name": "Eve"})
    assert sent is not None
    try:
        adapters_django.send_template("+420777123456", "missing", {})
    except GuardedSMSTemplate.DoesNotExist:
        missing = "DoesNotExist"
    print(
        json.dumps(
            {
                "template_model": get_template_model().__name__,
                "shipped_model_swapped": SMSTemplate._meta.swapped,
                "refused": refused is None,
                "stored_after_refusal": stored_after_refusal,
                "content": sent.content,
                "template_fk": sent.template_id == template.pk,
                "fk_target": OutputSMSMessage._meta.get_field("template").related_model.__name__,
                "missing": missing,
                "admin": type(admin.site._registry.get(GuardedSMSTemplate)).__name__
                if isinstance(admin.site._registry.get(GuardedSMSTemplate), SMSTemplateAdmin)
                else None,
                "check_ids": sorted(m.id for m in checks.run_checks() if m.id and m.id.startswith("adapters_django")),
            }
        )
    )


if __name__ == "__main__":
    main()
