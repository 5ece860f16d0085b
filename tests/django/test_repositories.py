"""The Django repositories pass the storage contract suites on SQLite and on PostgreSQL, and keep the
adapter's own promises: constant queries per page, a usable transaction after a key clash, claims that never
overlap between concurrent workers."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connections, transaction

from adapters_django.guards import DjangoOptOutRepository, DjangoRefusalCounter
from adapters_django.inbound import DjangoInboundRepository
from adapters_django.models import OutputSMSMessage, OutputSMSRelatedObject, SMSTemplate
from adapters_django.repositories import DjangoMessageRepository
from adapters_django.storage import build_storage
from adapters_django.template_repository import DjangoTemplateRepository
from smscore import DuplicateIdempotencyKeyError, InboundSMS, RelatedObject, SMSConfig, SMSService, SMSState, Storage
from smscore.rows import READ_FIELDS
from tests.contracts.guarded_service import GuardedServiceContract
from tests.contracts.guards import OptOutRepositoryContract, RefusalCounterContract
from tests.contracts.inbound import InboundRepositoryContract
from tests.contracts.repositories import T0, MessageRepositoryContract, TemplateRepositoryContract, make_message
from tests.contracts.scheduling import SchedulingContract
from tests.contracts.service import ServiceStorageContract
from tests.django.testapp.models import Order


@pytest.mark.django_db
class TestSQLiteMessageRepository(MessageRepositoryContract):
    @pytest.fixture
    def repo(self) -> DjangoMessageRepository:
        return DjangoMessageRepository()


@pytest.mark.django_db
class TestServiceOnDjangoSQLite(ServiceStorageContract):
    @pytest.fixture
    def repo(self) -> DjangoMessageRepository:
        return DjangoMessageRepository()


@pytest.mark.postgres
@pytest.mark.django_db(databases=["postgres"])
class TestServiceOnDjangoPostgres(ServiceStorageContract):
    @pytest.fixture
    def repo(self, postgres: str) -> DjangoMessageRepository:
        return DjangoMessageRepository(using=postgres)


@pytest.mark.django_db
class TestSchedulingOnDjangoSQLite(SchedulingContract):
    @pytest.fixture
    def repo(self) -> DjangoMessageRepository:
        return DjangoMessageRepository()


@pytest.mark.postgres
@pytest.mark.django_db(databases=["postgres"])
class TestSchedulingOnDjangoPostgres(SchedulingContract):
    @pytest.fixture
    def repo(self, postgres: str) -> DjangoMessageRepository:
        return DjangoMessageRepository(using=postgres)


@pytest.mark.django_db
class TestSQLiteTemplateRepository(TemplateRepositoryContract):
    @pytest.fixture
    def templates(self) -> DjangoTemplateRepository:
        return DjangoTemplateRepository()


@pytest.mark.postgres
@pytest.mark.django_db(databases=["postgres"])
class TestPostgresMessageRepository(MessageRepositoryContract):
    @pytest.fixture
    def repo(self, postgres: str) -> DjangoMessageRepository:
        return DjangoMessageRepository(using=postgres)


@pytest.mark.postgres
@pytest.mark.django_db(databases=["postgres"])
class TestPostgresTemplateRepository(TemplateRepositoryContract):
    @pytest.fixture
    def templates(self, postgres: str) -> DjangoTemplateRepository:
        return DjangoTemplateRepository(using=postgres)


@pytest.mark.django_db
class TestSQLiteOptOutRepository(OptOutRepositoryContract):
    @pytest.fixture
    def opt_outs(self) -> DjangoOptOutRepository:
        return DjangoOptOutRepository()


@pytest.mark.postgres
@pytest.mark.django_db(databases=["postgres"])
class TestPostgresOptOutRepository(OptOutRepositoryContract):
    @pytest.fixture
    def opt_outs(self, postgres: str) -> DjangoOptOutRepository:
        return DjangoOptOutRepository(using=postgres)


class ThreadClosingInbound(DjangoInboundRepository):
    """The real repository; called from another thread, it then closes that thread's connection (the contract's
    threads end without closing the connections Django opened for them)."""

    def add(self, sms: InboundSMS) -> InboundSMS:
        try:
            return super().add(sms)
        finally:
            if threading.current_thread() is not threading.main_thread():
                connections[self.using].close()


@pytest.mark.django_db(transaction=True, databases=["sqlite_file"])
class TestSQLiteInboundRepository(InboundRepositoryContract):
    """On a file, so the threads' own connections really compete for SQLite's write lock."""

    @pytest.fixture
    def inbound(self) -> DjangoInboundRepository:
        return ThreadClosingInbound(using="sqlite_file")


@pytest.mark.postgres
@pytest.mark.django_db(databases=["postgres"], transaction=True)
class TestPostgresInboundRepository(InboundRepositoryContract):
    @pytest.fixture
    def inbound(self, postgres: str) -> DjangoInboundRepository:
        return ThreadClosingInbound(using=postgres)


@pytest.mark.django_db
class TestSQLiteRefusalCounter(RefusalCounterContract):
    @pytest.fixture
    def refusals(self) -> DjangoRefusalCounter:
        return DjangoRefusalCounter()


@pytest.mark.postgres
@pytest.mark.django_db(databases=["postgres"])
class TestPostgresRefusalCounter(RefusalCounterContract):
    @pytest.fixture
    def refusals(self, postgres: str) -> DjangoRefusalCounter:
        return DjangoRefusalCounter(using=postgres)


@pytest.mark.django_db
class TestGuardsOnDjangoSQLite(GuardedServiceContract):
    @pytest.fixture
    def storage(self) -> Storage:
        return build_storage(SMSConfig(storage="django"))


@pytest.mark.postgres
@pytest.mark.django_db(databases=["postgres"])
class TestGuardsOnDjangoPostgres(GuardedServiceContract):
    @pytest.fixture
    def storage(self, postgres: str) -> Storage:
        return build_storage(SMSConfig(storage="django", storage_options={"database": postgres}))


def test_the_message_model_has_a_field_per_name_of_the_shared_list() -> None:
    """Every row field of the core is a column of the model (plus the template link the ORM adds)."""
    columns = {field.attname for field in OutputSMSMessage._meta.concrete_fields}
    assert columns == {*READ_FIELDS, "template_id"}


@pytest.mark.django_db
class TestDjangoSpecifics:
    def test_related_objects_of_many_messages_load_in_one_query(self, django_assert_num_queries: Any) -> None:
        """find over many messages with related objects costs two queries, however many messages."""
        repo = DjangoMessageRepository()
        orders = [Order.objects.create(number=f"o{i}") for i in range(3)]
        repo.add_many(
            [
                make_message(related_objects=(RelatedObject.of(o), RelatedObject("shop.cart", "c-1")))
                for o in orders * 10
            ]
        )
        with django_assert_num_queries(2):
            found = repo.find()
        assert len(found) == 30
        assert {m.related_objects[0] for m in found} == {RelatedObject("testapp.order", o.pk) for o in orders}

    def test_related_objects_are_rows_with_content_types(self) -> None:
        """A model instance becomes a row with its real content type; an integer id is also kept as an integer."""
        order = Order.objects.create(number="A-1")
        stored = DjangoMessageRepository().add(make_message(related_objects=(RelatedObject.of(order),)))
        row = OutputSMSRelatedObject.objects.get(output_sms_message_id=stored.id)
        assert row.content_type == ContentType.objects.get_for_model(Order)
        assert (row.object_id, row.object_id_int) == (str(order.pk), order.pk)
        assert row.content_object == order

    def test_add_links_the_template_row_by_slug(self) -> None:
        """A message with a template slug points at that template; the slug survives the template's deletion."""
        template = SMSTemplate.objects.create(slug="otp", body="{{ code }}")
        stored = DjangoMessageRepository().add(make_message(template_slug="otp"))
        assert OutputSMSMessage.objects.get(pk=stored.id).template == template
        template.delete()
        row = OutputSMSMessage.objects.get(pk=stored.id)
        assert (row.template, row.template_slug) == (None, "otp")

    def test_a_key_clash_leaves_the_callers_transaction_usable(self) -> None:
        """The unique-key clash is caught in a savepoint: the caller's transaction goes on and commits."""
        repo = DjangoMessageRepository()
        with transaction.atomic():
            first = repo.add(make_message(idempotency_key="k"))
            with pytest.raises(DuplicateIdempotencyKeyError):
                repo.add(make_message(idempotency_key="k"))
            second = repo.add(make_message(content="after the clash"))
        assert [m.id for m in repo.find()] == [second.id, first.id]

    def test_a_scan_page_costs_two_queries(self, django_assert_num_queries: Any) -> None:
        """scan reads one page with one query for rows and one for related objects."""
        repo = DjangoMessageRepository()
        repo.add_many([make_message(state=SMSState.SENDING, sent_at=T0) for _ in range(50)])
        with django_assert_num_queries(2):
            page = repo.scan(states={SMSState.SENDING}, limit=20, after_id=0)
        assert len(page) == 20


def _claim_concurrently(alias: str, workers: int = 4, messages: int = 120) -> list[list[int]]:
    repo = DjangoMessageRepository(using=alias)
    stored = repo.add_many([make_message() for _ in range(messages)])
    taken: list[list[int]] = [[] for _ in range(workers)]
    errors: list[BaseException] = []
    start = threading.Barrier(workers)

    def work(index: int) -> None:
        try:
            start.wait()
            while True:
                claimed = repo.claim(now=T0, lease_until=T0 + timedelta(minutes=5), limit=7)
                if not claimed:
                    return
                taken[index].extend(m.id or 0 for m in claimed)
        except BaseException as exc:  # reported by the test below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    everything = sorted(i for ids in taken for i in ids)
    assert everything == sorted(m.id or 0 for m in stored), "every message claimed exactly once"
    return taken


@pytest.mark.django_db(transaction=True, databases=["sqlite_file"])
def test_concurrent_claims_on_sqlite_never_overlap() -> None:
    """Four threads with their own connections claim from one SQLite file: no message is claimed twice."""
    _claim_concurrently("sqlite_file")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=["postgres"])
def test_concurrent_claims_on_postgres_never_overlap(postgres: str) -> None:
    """Four workers claim with FOR UPDATE SKIP LOCKED: no message is claimed twice, and they share the work."""
    taken = _claim_concurrently(postgres)
    assert sum(1 for ids in taken if ids) >= 2


@pytest.mark.django_db
class TestSQLiteQueryPlans:
    """The outbox queries read their page from an index, never sorting the whole backlog (SQLite)."""

    @staticmethod
    def _plan(work: Any) -> str:
        from django.test.utils import CaptureQueriesContext

        connection = connections["default"]
        with CaptureQueriesContext(connection) as captured:
            work()
        selects = [q["sql"] for q in captured.captured_queries if "lease_expires_at" in q["sql"]]
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN QUERY PLAN {selects[0]}")
            return " / ".join(str(row[3]) for row in cursor.fetchall())

    def test_claim_and_expired_leases(self) -> None:
        from datetime import UTC, datetime

        repo = DjangoMessageRepository()
        repo.add_many([make_message(priority=1 + i % 3) for i in range(6)])
        now = datetime.now(UTC)
        claim_plan = self._plan(lambda: repo.claim(now=now, lease_until=now + timedelta(minutes=1), limit=2))
        lease_plan = self._plan(lambda: repo.find_expired_leases(now=now, limit=10))
        assert "smscore_msg_claim" in claim_plan, claim_plan
        assert "TEMP B-TREE" not in claim_plan, claim_plan
        assert "smscore_msg_lease" in lease_plan, lease_plan

    def test_the_idle_timeout_pages_through_one_state_in_id_order(self, service: SMSService) -> None:
        """Each page of the idle time-out scan (one state, sent before the cut-off) comes in id order from
        smscore_msg_state: no sort of the remaining in-flight messages."""
        from datetime import UTC, datetime

        from django.test.utils import CaptureQueriesContext

        long_ago = datetime(2020, 1, 1, tzinfo=UTC)
        service.messages.add_many(
            [make_message(state=state, sent_at=long_ago) for state in [SMSState.SENDING, SMSState.UNKNOWN] * 3]
        )
        connection = connections["default"]
        with CaptureQueriesContext(connection) as captured:
            assert service.check_delivery().timed_out == 6
        scans = [
            q["sql"] for q in captured.captured_queries if q["sql"].startswith("SELECT") and '"sent_at" <' in q["sql"]
        ]
        # Per state: the page of all three, and the empty page that ends the scan.
        assert len(scans) == 4, scans
        with connection.cursor() as cursor:
            for sql in scans:
                cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
                plan = " / ".join(str(row[3]) for row in cursor.fetchall())
                assert "smscore_msg_state " in f"{plan} ", plan
                assert "TEMP B-TREE" not in plan, plan


def _race_for_the_limit(alias: str, threads: int = 8, attempts: int = 3) -> list[int | None]:
    """``threads`` threads with their own connections store ``otp`` messages to one number at once (limit 5)."""
    from smscore import RecipientLimit

    repo = DjangoMessageRepository(using=alias)
    limits = {"otp": RecipientLimit(5, timedelta(hours=1))}
    results: list[int | None] = []
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def work() -> None:
        try:
            start.wait()
            for _ in range(attempts):
                [stored] = repo.add_within_limits([make_message(tag="otp")], limits)
                results.append(None if stored is None else stored.id)
        except BaseException as exc:  # reported by the test below
            errors.append(exc)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert not errors, errors
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=["postgres"])
def test_concurrent_senders_on_postgres_get_exactly_the_limit_through(postgres: str) -> None:
    """Eight threads, 24 attempts, a limit of 5: five stored, under advisory locks."""
    results = _race_for_the_limit(postgres)
    assert len(results) == 24
    assert len([r for r in results if r is not None]) == 5
    assert OutputSMSMessage.objects.using(postgres).filter(tag="otp").count() == 5


@pytest.mark.django_db(transaction=True, databases=["sqlite_file"])
def test_concurrent_senders_on_sqlite_get_exactly_the_limit_through() -> None:
    """The same race on an SQLite file, under its write lock."""
    results = _race_for_the_limit("sqlite_file")
    assert len([r for r in results if r is not None]) == 5
