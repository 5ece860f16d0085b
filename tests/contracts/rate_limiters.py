"""Contract suite for the rate-limiter port: subclass and provide a ``limiter`` fixture (fresh, empty)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from smscore.ports import RateLimiter

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


class RateLimiterContract:
    """Behaviour every :class:`~smscore.ports.RateLimiter` must have."""

    @pytest.fixture
    def limiter(self) -> RateLimiter:
        raise NotImplementedError("an adapter's test class provides the limiter fixture")

    def test_an_idle_key_starts_now(self, limiter: RateLimiter) -> None:
        """The first reservation of a key starts at once."""
        assert limiter.reserve("ats", 10, interval=0.1, now=T0) == T0

    def test_reservations_follow_each_other(self, limiter: RateLimiter) -> None:
        """Each reservation starts where the previous one ends."""
        limiter.reserve("ats", 10, interval=0.1, now=T0)
        assert limiter.reserve("ats", 5, interval=0.1, now=T0) == T0 + timedelta(seconds=1)
        assert limiter.reserve("ats", 1, interval=0.1, now=T0 + timedelta(seconds=0.5)) == T0 + timedelta(seconds=1.5)

    def test_a_key_idle_again_starts_at_now(self, limiter: RateLimiter) -> None:
        """Past reservations do not push a later request into the future."""
        limiter.reserve("ats", 2, interval=1, now=T0)
        later = T0 + timedelta(minutes=5)
        assert limiter.reserve("ats", 1, interval=1, now=later) == later

    def test_keys_are_independent(self, limiter: RateLimiter) -> None:
        """Two providers do not share slots."""
        limiter.reserve("ats", 100, interval=1, now=T0)
        assert limiter.reserve("twilio", 1, interval=1, now=T0) == T0

    @pytest.mark.parametrize(
        ("count", "interval", "now"),
        [(0, 1.0, T0), (-3, 1.0, T0), (1, 0.0, T0), (1, -1.0, T0), (1, 1.0, T0.replace(tzinfo=None))],
    )
    def test_bad_arguments_are_refused_and_book_nothing(
        self, limiter: RateLimiter, count: int, interval: float, now: datetime
    ) -> None:
        """A count below one, an interval that is not positive or a naive time is a ValueError, and the key
        stays idle."""
        with pytest.raises(ValueError, match=r"count must be|timezone-aware"):
            limiter.reserve("ats", count, interval=interval, now=now)
        assert limiter.reserve("ats", 1, interval=1, now=T0) == T0

    def test_concurrent_reservations_never_overlap(self, limiter: RateLimiter) -> None:
        """Eight threads reserving at once get eight distinct, back-to-back windows."""
        starts: list[datetime] = []
        lock = threading.Lock()
        barrier = threading.Barrier(8)

        def book() -> None:
            barrier.wait()
            start = limiter.reserve("ats", 3, interval=1, now=T0)
            with lock:
                starts.append(start)

        threads = [threading.Thread(target=book) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(starts) == [T0 + timedelta(seconds=3 * i) for i in range(8)]
