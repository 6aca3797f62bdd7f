"""The numbered ids one gateway writes into its answers.

Each gateway owns one `AnswerIds`, built by the composition root, so two gateways in one process
(the pytest plugin and the test suite run several) never share a sequence or skip each other's
numbers. Within a gateway every sequence only grows.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field


def _from(first: int) -> Iterator[int]:
    return itertools.count(first)


@dataclass(eq=False)
class AnswerIds:
    """One gateway's id sequences, each an endless iterator of ints."""

    #: `smh` server ids on `/v1/api/ws`: unique per gateway, as ibind maps them back to conids.
    smh_server_ids: Iterator[int] = field(default_factory=lambda: _from(100_001))
    #: `serverId` of `/iserver/marketdata/history` answers.
    history_server_ids: Iterator[int] = field(default_factory=lambda: _from(20_000))
    #: `id` of `/hmds/scanner` answers (`scanner1`, `scanner2`, ...).
    hmds_scan_ids: Iterator[int] = field(default_factory=lambda: _from(1))
    #: `MID` of watchlist answers: IBKR numbers them with a message id that grows per answer.
    watchlist_message_ids: Iterator[int] = field(default_factory=lambda: _from(1))
