"""Concurrent writers and workers: nothing is silently overwritten, nothing is claimed twice."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from sqlalchemy import Engine

from adapters_sqlalchemy import SQLAlchemyMessageRepository
from adapters_sqlalchemy.storage import create_engine_for
from smscore import ConcurrentUpdateError, SMSMessage, SMSState
from tests.contracts.repositories import T0, make_message
from tests.sqlalchemy.together import run_together

ROOT = Path(__file__).resolve().parents[2]


def _engines(url: str, count: int) -> list[Engine]:
    """Independent engines (own pools, own connections), as separate processes would have."""
    return [create_engine_for(url) for _ in range(count)]


class TestTwoWriters:
    def test_the_second_writer_gets_a_concurrency_error_and_the_first_write_stands(self, database_url: str) -> None:
        """Two writers read the same message; the later save is refused, and the stored value is the first's."""
        engines = _engines(database_url, 2)
        try:
            first_repo, second_repo = (SQLAlchemyMessageRepository(e) for e in engines)
            stored = first_repo.add(make_message())
            read_by_second = second_repo.get(stored.id or 0)
            written = first_repo.save(stored.transition(SMSState.DELIVERED, at=T0))
            with pytest.raises(ConcurrentUpdateError) as info:
                second_repo.save(read_by_second.transition(SMSState.ERROR, at=T0, error="late"))
            assert info.value.message_ids == (stored.id,)
            assert second_repo.get(stored.id or 0) == written
        finally:
            for engine in engines:
                engine.dispose()

    def test_simultaneous_saves_of_one_version_let_exactly_one_through(self, database_url: str) -> None:
        """Eight threads on eight engines save the same version at once: one wins, seven get the error."""
        engines = _engines(database_url, 8)
        try:
            repos = [SQLAlchemyMessageRepository(e) for e in engines]
            stored = repos[0].add(make_message())
            outcomes = _race(
                [
                    functools.partial(repo.save, stored.transition(SMSState.SENT, at=T0, error=f"writer {i}"))
                    for i, repo in enumerate(repos)
                ]
            )
            wins = [o for o in outcomes if isinstance(o, SMSMessage)]
            losses = [o for o in outcomes if isinstance(o, ConcurrentUpdateError)]
            assert (len(wins), len(losses)) == (1, 7), outcomes
            assert repos[0].get(stored.id or 0) == wins[0]
            assert wins[0].version == stored.version + 1
        finally:
            for engine in engines:
                engine.dispose()

    def test_a_conflict_in_save_many_writes_nothing_even_across_connections(self, database_url: str) -> None:
        """save_many is all or nothing when another connection changed one of the messages."""
        engines = _engines(database_url, 2)
        try:
            mine, theirs = (SQLAlchemyMessageRepository(e) for e in engines)
            batch = mine.add_many([make_message(content=str(i)) for i in range(5)])
            theirs.save(theirs.get(batch[3].id or 0).transition(SMSState.ERROR, at=T0, error="theirs"))
            with pytest.raises(ConcurrentUpdateError) as info:
                mine.save_many([m.transition(SMSState.SENT, at=T0) for m in batch])
            assert info.value.message_ids == (batch[3].id,)
            assert [theirs.get(m.id or 0).state for m in batch] == [SMSState.WAITING] * 3 + [
                SMSState.ERROR,
                SMSState.WAITING,
            ]
        finally:
            for engine in engines:
                engine.dispose()


def _race(functions: Sequence[Callable[[], object]]) -> list[object]:
    """Run each function in its own thread, all released at once; return their results or raised errors."""
    barrier = threading.Barrier(len(functions))
    results: list[object] = [None] * len(functions)

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = functions[index]()
        except Exception as exc:
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(functions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


class TestClaimAcrossProcesses:
    def test_two_processes_never_claim_the_same_message(self, database_url: str, tmp_path: Path) -> None:
        """Two worker processes claim from one database at the same time: every message once, no overlap."""
        engine = create_engine_for(database_url)
        try:
            stored = SQLAlchemyMessageRepository(engine).add_many(
                [make_message(priority=1 + i % 3) for i in range(600)]
            )
        finally:
            engine.dispose()
        claimed = run_together("tests.sqlalchemy.claim_worker", [database_url], 2, tmp_path)
        first, second = (set(ids) for ids in claimed)
        assert first.isdisjoint(second)
        assert sorted(first | second) == sorted(m.id for m in stored)
        assert sum(len(ids) for ids in claimed) == len(stored)
        assert first, "both workers should have claimed some messages"
        assert second, "both workers should have claimed some messages"
