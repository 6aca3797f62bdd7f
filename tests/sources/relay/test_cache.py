"""The relay's cache of upstream answers: fresh for a TTL, kept for a grace period, bounded."""

from __future__ import annotations

import pytest

from tickgate.sources.relay.cache import AnswerCache


def test_an_answer_is_fresh_for_its_ttl_then_kept_for_the_grace_period() -> None:
    cache: AnswerCache[str] = AnswerCache(capacity=10, grace_ns=50)
    cache.put("q", "a", now_ns=1_000, ttl_ns=100)
    assert cache.fresh("q", 1_099) == "a"
    assert cache.fresh("q", 1_100) is None  # stale: asked again, unless the upstream refuses
    kept = cache.kept("q", 1_149)
    assert kept is not None and (kept.value, kept.stored_ns) == ("a", 1_000)
    assert cache.kept("q", 1_150) is None and len(cache) == 0  # past its grace: gone


def test_the_least_recently_used_answer_goes_first_when_full() -> None:
    cache: AnswerCache[int] = AnswerCache(capacity=2, grace_ns=0)
    cache.put("a", 1, now_ns=0, ttl_ns=10)
    cache.put("b", 2, now_ns=0, ttl_ns=10)
    assert cache.fresh("a", 1) == 1  # "a" used: "b" is now the oldest
    cache.put("c", 3, now_ns=1, ttl_ns=10)
    assert (cache.fresh("a", 2), cache.fresh("b", 2), cache.fresh("c", 2)) == (1, None, 3)
    assert len(cache) == 2


def test_a_cache_needs_room_and_a_grace_period_of_zero_or_more() -> None:
    with pytest.raises(ValueError, match="capacity"):
        AnswerCache[int](capacity=0, grace_ns=0)
    with pytest.raises(ValueError, match="grace_ns"):
        AnswerCache[int](capacity=1, grace_ns=-1)
