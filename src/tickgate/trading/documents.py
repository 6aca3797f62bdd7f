"""The DocumentStore port: small keyed JSON documents kept beside the trading event log.

Alerts, FYI notifications and their settings are state a user edits, not trading events: the
engine never replays them, and a document is replaced or deleted in place. The event stores
keep them in the same file as the log (`tickgate.stores.sqlite`) or in memory
(`MemoryDocuments`, which `MemoryEventStore` is), so one `--store` choice covers both.

Contract every adapter keeps (`tests/trading/test_store_conformance.py`): documents of one
`kind` come back in the order their key was first put (replacing a document keeps its place);
`put_documents` and `delete_documents` are each atomic and durable to the adapter's standard
when they return; a document comes back equal to what was put (JSON types only); deleting a
key that is not there is no error; after the store's `close` every call raises
`StoreClosedError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import orjson

Document = dict[str, Any]


class StoreClosedError(RuntimeError):
    """The store was used after `close`."""


class DocumentStore(Protocol):
    """Where user-edited documents are kept."""

    def documents(self, kind: str) -> list[tuple[str, Document]]:
        """Every `(key, document)` of `kind`, in the order the keys were first put."""
        ...

    def put_documents(self, kind: str, documents: Mapping[str, Document]) -> None:
        """Create or replace the documents of `kind` by key, all or none."""
        ...

    def delete_documents(self, kind: str, keys: Iterable[str]) -> None:
        """Delete the documents of `kind` with these keys (absent keys are ignored)."""
        ...


class MemoryDocuments:
    """Documents for the life of the process. Each goes through the JSON codec the durable
    store uses, so what a test puts here is what SQLite would give back."""

    def __init__(self) -> None:
        self._documents: dict[str, dict[str, bytes]] = {}
        self._closed = False

    def documents(self, kind: str) -> list[tuple[str, Document]]:
        self._check_open()
        kept = self._documents.get(kind, {})
        return [(key, orjson.loads(raw)) for key, raw in kept.items()]

    def put_documents(self, kind: str, documents: Mapping[str, Document]) -> None:
        self._check_open()
        # Encode every document first: one that cannot be encoded keeps none of the batch.
        encoded = {key: orjson.dumps(document) for key, document in documents.items()}
        self._documents.setdefault(kind, {}).update(encoded)

    def delete_documents(self, kind: str, keys: Iterable[str]) -> None:
        self._check_open()
        kept = self._documents.get(kind, {})
        for key in list(keys):
            kept.pop(key, None)

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError("the trading store is closed")
