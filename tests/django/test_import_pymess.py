"""``manage.py import_pymess`` copies a django-pymess 0.7.6 project's rows (every state, provider references,
related objects, templates) into smscore's tables, twice without copying anything twice, and the messages that
were in flight are resolved by a delivery check against the loopback gateways afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.core.management.base import CommandError
from pymess.backend.sms import send, send_template

import adapters_django
from adapters_django.models import OutputSMSMessage, SMSTemplate
from adapters_django.wiring import get_service
from smscore import SMSState, TemplateInactiveError
from tests.django.pymess_ancestor import AncestorMessage, AncestorRelatedObject, AncestorTemplate, ancestor_tables
from tests.django.testapp.models import Order, Voucher
from tests.providers.fake_gateways import ATSGateway, ReceivedSMS, SMSOperatorGateway

ATS = "pymess.backend.sms.ats_sms_operator.ATSSMSBackend"
OPERATOR = "pymess.backend.sms.sms_operator.SMSOperatorBackend"
DUMMY = "pymess.backend.sms.dummy.DummySMSBackend"
CUSTOM = "myproject.sms.BulkGateBackend"
NOW = datetime.now(UTC)
RECENT = NOW - timedelta(minutes=5)
OLD = NOW - timedelta(days=2)

#: id -> (ancestor state, backend, extra_sender_data, created_at, attempts); what each becomes is asserted below.
ROWS: dict[int, tuple[int, str | None, dict[str, Any] | None, datetime, int]] = {
    1: (1, None, None, RECENT, 0),
    2: (1, None, None, OLD, 0),
    3: (2, ATS, {"prefix": "", "validity": 60, "kw": "KW", "textid": None, "sender_state": 0}, RECENT, 1),
    4: (3, ATS, {"prefix": "", "validity": 60, "kw": "KW", "textid": None, "sender_state": 0}, RECENT, 1),
    5: (4, ATS, {"prefix": "", "sender_state": 22}, RECENT, 1),
    6: (5, OPERATOR, {"prefix": "shop", "sender_state": 1}, OLD, 1),
    7: (6, DUMMY, {}, OLD, 1),
    8: (7, ATS, {"prefix": "", "sender_state": 23}, OLD, 1),
    9: (8, ATS, {"prefix": "", "sender_state": 341}, OLD, 1),
    10: (9, CUSTOM, {}, RECENT, 1),
    11: (3, OPERATOR, {"prefix": "shop", "sender_state": 11}, RECENT, 1),
    12: (42, ATS, {}, OLD, 1),
    13: (9, ATS, {}, OLD, 2),
}
#: id -> (state here, provider here, provider_ref here) after the import.
EXPECTED: dict[int, tuple[SMSState, str | None, str | None]] = {
    1: (SMSState.WAITING, "ats", None),
    2: (SMSState.ERROR, "ats", None),
    3: (SMSState.UNKNOWN, "ats", "-3"),
    4: (SMSState.SENDING, "ats", "-4"),
    5: (SMSState.SENT, "ats", "-5"),
    6: (SMSState.ERROR, "operator", "shop-6"),
    7: (SMSState.DEBUG, "dummy", None),
    8: (SMSState.DELIVERED, "ats", "-8"),
    9: (SMSState.ERROR, "ats", "-9"),
    10: (SMSState.WAITING, None, None),
    11: (SMSState.SENDING, "operator", "shop-11"),
    13: (SMSState.ERROR, "ats", "-13"),
}


#: The databases the tests may touch: SQLite, and PostgreSQL when the settings have it.
DATABASES = [alias for alias in ("default", "postgres") if alias in django_settings.DATABASES]


@pytest.fixture(params=["default", pytest.param("postgres", marks=pytest.mark.postgres)])
def alias(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres"))
    return "default"


@pytest.fixture
def gateways() -> Iterator[tuple[ATSGateway, SMSOperatorGateway]]:
    with ATSGateway() as ats, SMSOperatorGateway() as operator:
        yield ats, operator


@pytest.fixture
def project(settings: Any, alias: str, gateways: tuple[ATSGateway, SMSOperatorGateway]) -> Iterator[str]:
    """A project configured with the ancestor's backend paths, its tables filled as django-pymess left them."""
    ats, operator = gateways
    secrets = {"USERNAME": "user", "PASSWORD": "secret"}
    settings.PYMESS_SMS_DATABASE = alias
    settings.PYMESS_SMS_DEFAULT_SENDER_BACKEND_NAME = "ats"
    settings.PYMESS_SMS_BACKENDS = {
        "ats": {
            "backend": ATS,
            "config": {"URL": ats.url, "PROJECT_KEYWORD": "KW", "OUTPUT_SENDER_NUMBER": "90099", **secrets},
        },
        "operator": {"backend": OPERATOR, "config": {"URL": operator.url, "UNIQ_PREFIX": "shop", **secrets}},
        "dummy": {"backend": DUMMY},
    }
    with ancestor_tables(alias):
        fill_ancestor_tables(alias)
        yield alias


def fill_ancestor_tables(alias: str) -> None:
    """Templates (active, inactive, without body), a message per row of ROWS, related objects of two types."""
    for slug, body, active in (("welcome", "Hello {{ name }}", True), ("retired", "Bye", False), ("blank", None, True)):
        AncestorTemplate.objects.using(alias).create(
            slug=slug, body=body, is_active=active, created_at=OLD, changed_at=OLD + timedelta(hours=1)
        )
    for pk, (state, backend, sender_data, created, attempts) in ROWS.items():
        AncestorMessage.objects.using(alias).create(
            id=pk,
            created_at=created,
            changed_at=created + timedelta(seconds=1),
            sent_at=created if backend else None,
            recipient="+420777000" + f"{pk:03d}",
            sender="90099" if backend == ATS else None,
            content=f"message {pk}",
            template_id="welcome" if pk == 4 else None,
            template_slug="welcome" if pk == 4 else None,
            state=state,
            backend=backend,
            error="not delivered" if state == 5 else None,
            extra_data={"order": pk} if pk % 2 else None,
            extra_sender_data=sender_data,
            tag="orders" if pk == 4 else None,
            number_of_send_attempts=attempts,
            priority=1 if pk == 4 else 3,
        )
    order = Order.objects.using(alias).create(number="A-1")
    voucher = Voucher.objects.using(alias).create(code="V-1")
    types = ContentType.objects.db_manager(alias)
    for message_id, obj in ((4, order), (4, voucher), (8, order)):
        AncestorRelatedObject.objects.using(alias).create(
            created_at=OLD,
            changed_at=OLD,
            content_type_id=types.get_for_model(obj).pk,
            object_id=str(obj.pk),
            output_sms_message_id=message_id,
        )


def snapshot(alias: str) -> list[list[dict[str, Any]]]:
    return [
        list(model.objects.using(alias).order_by("pk").values())
        for model in (AncestorTemplate, AncestorMessage, AncestorRelatedObject)
    ]


def import_pymess(*args: str) -> str:
    out = StringIO()
    call_command("import_pymess", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db(transaction=True, databases=DATABASES)
def test_import_twice_then_send_and_check_delivery(
    project: str, gateways: tuple[ATSGateway, SMSOperatorGateway]
) -> None:
    """Every row comes over once with its state, provider, reference, timestamps and links; a second run copies
    nothing; the ancestor's tables are unchanged; then a new send and a delivery check resolve everything."""
    alias = project
    before = snapshot(alias)
    first = import_pymess("--batch-size", "4")
    assert "messages: 4/13" in first
    assert "messages: 13/13" in first
    assert "messages: copied 12 of 13, already here 0" in first
    assert "templates: copied 2, already here 0" in first
    assert "related objects: copied 3" in first
    for line in (
        "state 1 WAITING -> waiting: 1",
        "state 1 WAITING -> error: 1",
        "state 2 UNKNOWN -> unknown: 1",
        "state 3 SENDING -> sending: 2",
        "state 4 SENT -> sent: 1",
        "state 5 ERROR_UPDATE -> error: 1",
        "state 6 DEBUG -> debug: 1",
        "state 7 DELIVERED -> delivered: 1",
        "state 8 ERROR -> error: 1",
        "state 9 ERROR_RETRY -> waiting: 1",
        "state 9 ERROR_RETRY -> error: 1",
        "note: template 'blank' has no body: not copied",
        "note: state 42 is not a django-pymess state: 1 message(s) not copied",
        f"note: backend '{CUSTOM}' is not configured: 1 message(s) kept it, with no provider",
        "note: 2 waiting message(s) past the send deadline: copied as error",
    ):
        assert line in first
    second = import_pymess()
    assert "messages: copied 0 of 13, already here 12" in second
    assert "templates: copied 0, already here 2" in second
    assert snapshot(alias) == before

    messages = {m.pk: m for m in OutputSMSMessage.objects.using(alias).all()}
    assert sorted(messages) == sorted(EXPECTED)
    for pk, (state, provider, ref) in EXPECTED.items():
        message = messages[pk]
        _ancestor_state, backend, sender_data, created, attempts = ROWS[pk]
        assert (message.sms_state, message.provider, message.provider_ref) == (state, provider, ref), pk
        assert message.idempotency_key == f"pymess:{pk}"
        assert (message.created_at, message.changed_at) == (created, created + timedelta(seconds=1))
        assert message.sent_at == (created if backend else None)
        assert (message.recipient, message.content, message.attempts) == (
            f"+420777000{pk:03d}",
            f"message {pk}",
            attempts,
        )
        assert message.extra_data == ({"order": pk} if pk % 2 else {})
        assert message.extra_sender_data == (sender_data or {})
        assert message.priority == (1 if pk == 4 else 3)
        expected_backend = {
            "ats": "providers.ats.ATSSMSBackend",
            "operator": "providers.sms_operator.SMSOperatorBackend",
            "dummy": "providers.dummy.DummySMSBackend",
            None: CUSTOM,
        }[provider]
        assert message.backend == expected_backend
    assert messages[2].error is not None
    assert "imported from django-pymess" in messages[2].error
    assert messages[6].error == "not delivered"
    welcome = SMSTemplate.objects.using(alias).get(slug="welcome")
    assert (messages[4].template_id, messages[4].template_slug, messages[4].tag) == (welcome.pk, "welcome", "orders")
    links = [(r.content_type.model, r.object_id, r.object_id_int) for r in messages[4].related_objects.all()]
    assert links == [
        ("order", str(Order.objects.using(alias).get().pk), Order.objects.using(alias).get().pk),
        ("voucher", "V-1", None),
    ]
    assert [r.object_id for r in messages[8].related_objects.all()] == [str(Order.objects.using(alias).get().pk)]
    templates = {t.slug: t for t in SMSTemplate.objects.using(alias).all()}
    assert sorted(templates) == ["retired", "welcome"]
    assert (templates["welcome"].body, templates["welcome"].is_active) == ("Hello {{ name }}", True)
    assert (templates["retired"].body, templates["retired"].is_active) == ("Bye", False)
    assert (templates["welcome"].created_at, templates["welcome"].changed_at) == (OLD, OLD + timedelta(hours=1))

    assert send_template("+420777123456", "retired", {}) is None
    with pytest.raises(TemplateInactiveError):
        adapters_django.send_template("+420777123456", "retired", {})
    assert not OutputSMSMessage.objects.using(alias).filter(template_slug="retired").exists()

    ats, operator = gateways
    # What the gateways hold of the messages django-pymess sent them.
    for uniq, code in (("-3", 23), ("-4", 23), ("-5", 22)):
        ats.messages[uniq] = ReceivedSMS(
            uniq=uniq, recipient="", text="", sender=None, attributes={}, code=0, state=code
        )
    operator.messages["shop-11"] = ReceivedSMS(
        uniq="shop-11", recipient="", text="", sender=None, attributes={}, code=11, state=0
    )
    assert send("+420777123456", "after the import") is False
    new = OutputSMSMessage.objects.using(alias).get(content="after the import")
    assert new.pk > max(ROWS)  # the id sequence moved past the copied ids
    assert (new.sms_state, new.provider, new.provider_ref) == (SMSState.SENDING, "ats", str(new.pk))
    report = get_service().check_delivery()
    assert report.failed_chunks == 0
    states = dict(OutputSMSMessage.objects.using(alias).values_list("pk", "state"))
    assert states[3] == states[4] == states[11] == states[new.pk] == SMSState.DELIVERED.value
    assert states[5] == SMSState.SENT.value  # ATS 22: handed to the carrier, no news yet


@pytest.mark.django_db(transaction=True, databases=DATABASES)
def test_dry_run_reports_and_writes_nothing(project: str) -> None:
    """--dry-run reads everything and reports what it would copy; no row is written."""
    output = import_pymess("--dry-run")
    assert "messages: would copy 12 of 13, already here 0" in output
    assert "templates: would copy 2, already here 0" in output
    assert "state 3 SENDING -> sending: 2" in output
    assert not OutputSMSMessage.objects.using(project).exists()
    assert not SMSTemplate.objects.using(project).exists()


@pytest.mark.django_db(transaction=True, databases=DATABASES)
def test_a_taken_id_gives_the_message_a_new_one_and_says_it_cannot_be_checked(project: str) -> None:
    """A message whose id is already used here is copied under a new id; being in flight at ATS, it is reported
    as not resolvable by a delivery check."""
    assert send("+420777123456", "sent before the import") is False
    OutputSMSMessage.objects.using(project).update(id=4)
    AncestorRelatedObject.objects.using(project).exclude(output_sms_message_id=4).delete()
    AncestorMessage.objects.using(project).exclude(pk=4).delete()
    output = import_pymess()
    assert "note: 1 message(s) got a new id (theirs was taken)" in output
    assert "1 in-flight ATS / SMS-operator message(s) cannot be asked about" in output
    copied = OutputSMSMessage.objects.using(project).get(idempotency_key="pymess:4")
    assert copied.pk != 4
    assert copied.content == "message 4"
    assert OutputSMSMessage.objects.using(project).get(pk=4).content == "sent before the import"
    assert copied.related_objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_missing_ancestor_tables_are_an_error(settings: Any) -> None:
    """Without django-pymess's tables the command stops, naming them, before reading anything."""
    with pytest.raises(CommandError, match="pymess_smstemplate, pymess_outputsmsmessage"):
        import_pymess()


@pytest.mark.django_db(transaction=True)
def test_twilio_sids_and_sns_message_ids_become_provider_references(settings: Any) -> None:
    """A Twilio sid or SNS MessageId kept in extra_sender_data (forks, custom backends) is the provider_ref the
    providers look messages up by."""
    settings.PYMESS_SMS_BACKENDS = {
        "twilio": {
            "backend": "pymess.backend.sms.twilio.TwilioSMSBackend",
            "config": {"ACCOUNT_SID": "AC" + "0" * 32, "AUTH_TOKEN": "token", "FROM_": "+15005550006"},
        },
        "sns": {"backend": "pymess.backend.sms.sns.SNSSMSBackend", "config": {"AWS_REGION": "eu-west-1"}},
    }
    settings.PYMESS_SMS_DEFAULT_SENDER_BACKEND_NAME = "twilio"
    with ancestor_tables():
        for pk, backend, data in (
            (1, "pymess.backend.sms.twilio.TwilioSMSBackend", {"sid": "SM" + "1" * 32}),
            (2, "pymess.backend.sms.sns.SNSSMSBackend", {"MessageId": "0f3c-sns"}),
            (3, "pymess.backend.sms.twilio.TwilioSMSBackend", {}),
        ):
            AncestorMessage.objects.create(
                id=pk,
                created_at=OLD,
                changed_at=OLD,
                recipient="+420777123456",
                content="x",
                state=4,
                backend=backend,
                extra_sender_data=data,
            )
        import_pymess()
    refs = list(OutputSMSMessage.objects.order_by("pk").values_list("provider", "provider_ref"))
    assert refs == [("twilio", "SM" + "1" * 32), ("sns", "0f3c-sns"), ("twilio", None)]
