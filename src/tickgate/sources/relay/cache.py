"""A bounded cache of upstream answers with a time to live, the clock passed in.

The relay asks its upstream for what its own catalogue cannot answer (contract lookups,
snapshots and history of instruments outside it). Many downstream clients asking the same
thing within a TTL cost the upstream one call, so the relay stays within the upstream's REST
pacing; past the TTL an entry is still kept for a grace period, to answer when the upstream
refuses (429) or is away, said so by its age. At most `capacity` entries are kept; the least
recently used goes first. Not thread-safe; lives on the event loop.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class Entry(Generic[V]):
    value: V
    stored_ns: int
    fresh_until_ns: int


class AnswerCache(Generic[V]):
    """Values by key, fresh for `ttl_ns` after they were stored and kept `grace_ns` more."""

    def __init__(self, *, capacity: int, grace_ns: int) -> None:
        if capacity <= 0 or grace_ns < 0:
            raise ValueError(f"need capacity > 0 and grace_ns >= 0, got {capacity}, {grace_ns}")
        self._capacity = capacity
        self._grace_ns = grace_ns
        self._entries: OrderedDict[Hashable, Entry[V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def fresh(self, key: Hashable, now_ns: int) -> V | None:
        """The value stored under `key` if it is still fresh, else None."""
        entry = self._entries.get(key)
        if entry is None or now_ns >= entry.fresh_until_ns:
            return None
        self._entries.move_to_end(key)
        return entry.value

    def kept(self, key: Hashable, now_ns: int) -> Entry[V] | None:
        """The entry under `key`, fresh or stale, while within its grace period; else None
        (and an expired entry is dropped)."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if now_ns >= entry.fresh_until_ns + self._grace_ns:
            del self._entries[key]
            return None
        return entry

    def put(self, key: Hashable, value: V, *, now_ns: int, ttl_ns: int) -> None:
        """Store `value` under `key`, fresh for `ttl_ns`; the least recently used entry goes
        when the cache is full."""
        self._entries[key] = Entry(value, now_ns, now_ns + ttl_ns)
        self._entries.move_to_end(key)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)
