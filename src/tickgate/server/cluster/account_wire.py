"""Account events and the day's account state as NATS messages (JSON), core to edges.

An event message is `{"seq": N, "kind": ..., "payload": ...}`: stored events in the event
store's own form (`trading.events.encode`), `PnlChanged` with its figures as exact decimal
strings. `seq` numbers every event a core publishes, one sequence per cluster, so an edge sees
a missing one. A day snapshot is what an edge rebuilds its replica from: the number of the
last event it reflects, the session start, the day's orders, the recent fills and each
account's figures. Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson

from tickgate.errors import TickgateError
from tickgate.model.accounts import AccountConfig
from tickgate.model.orders import Fill, Order
from tickgate.trading import events as codec
from tickgate.trading.events import PnlChanged, TradingEvent
from tickgate.trading.portfolio import CurrencyLedger


class AccountWireError(TickgateError):
    """A message is not an account event or day snapshot; the message says why."""


@dataclass(frozen=True, slots=True)
class DaySnapshot:
    """The core's accounts as of event `seq`."""

    seq: int
    session_start_ns: int
    accounts: list[str]
    orders: list[Order]
    fills: list[Fill]
    pnl: list[PnlChanged]


def _pnl_payload(event: PnlChanged) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in dataclasses.fields(event):
        value = getattr(event, field.name)
        if isinstance(value, AccountConfig):
            out[field.name] = {
                "account_id": value.account_id,
                "base_currency": value.base_currency,
                "starting_cash": str(value.starting_cash),
            }
        elif field.name == "currencies":  # one ledger line per currency, amounts as strings
            out[field.name] = [
                {f.name: str(getattr(line, f.name)) for f in dataclasses.fields(line)}
                for line in value
            ]
        else:
            out[field.name] = str(value) if isinstance(value, Decimal) else value
    return out


def _pnl_event(payload: dict[str, Any]) -> PnlChanged:
    values = dict(payload)
    config = values.pop("config")
    lines = tuple(_ledger_line(line) for line in values.pop("currencies", ()))
    values = {k: v if k == "account" else Decimal(v) for k, v in values.items()}
    return PnlChanged(
        config=AccountConfig(
            config["account_id"], config["base_currency"], Decimal(config["starting_cash"])
        ),
        currencies=lines,
        **values,
    )


def _ledger_line(line: dict[str, str]) -> CurrencyLedger:
    amounts = {k: Decimal(v) for k, v in line.items() if k != "currency"}
    return CurrencyLedger(currency=str(line["currency"]), **amounts)


def encode_event(seq: int, event: TradingEvent) -> bytes:
    if isinstance(event, PnlChanged):
        kind, payload = "PnlChanged", _pnl_payload(event)
    else:
        kind, payload = codec.encode(event)
    return orjson.dumps({"seq": seq, "kind": kind, "payload": payload})


def encode_mark(seq: int) -> bytes:
    """A mark: "the last event published is number `seq`", sent when nothing else is, so a
    follower sees events it missed even when no later event comes (a core that died right
    after storing one, then restarted quiet)."""
    return orjson.dumps({"seq": seq, "kind": MARK})


MARK = "Mark"


def decode_event(data: bytes) -> tuple[int, TradingEvent | None]:
    """The (seq, event) `encode_event` wrote, or (seq, None) for a mark. Raises
    AccountWireError for anything else."""
    try:
        message = orjson.loads(data)
        seq, kind = message["seq"], message["kind"]
        if kind == MARK and isinstance(seq, int):
            return seq, None
        payload = message["payload"]
        if not isinstance(seq, int) or not isinstance(payload, dict):
            raise TypeError("seq must be an integer and payload an object")
        if kind == "PnlChanged":
            return seq, _pnl_event(payload)
        return seq, codec.decode(str(kind), payload)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise AccountWireError(f"not an account event: {exc!r}") from None


def encode_snapshot(snapshot: DaySnapshot) -> bytes:
    return orjson.dumps(
        {
            "seq": snapshot.seq,
            "session_start_ns": snapshot.session_start_ns,
            "accounts": snapshot.accounts,
            "orders": [codec.encode_order(o) for o in snapshot.orders],
            "fills": [codec.encode_fill(f) for f in snapshot.fills],
            "pnl": [_pnl_payload(p) for p in snapshot.pnl],
        }
    )


def decode_snapshot(data: bytes) -> DaySnapshot:
    """The snapshot `encode_snapshot` wrote. Raises AccountWireError for anything else."""
    try:
        raw = orjson.loads(data)
        return DaySnapshot(
            seq=int(raw["seq"]),
            session_start_ns=int(raw["session_start_ns"]),
            accounts=[str(a) for a in raw["accounts"]],
            orders=[codec.decode_order(o) for o in raw["orders"]],
            fills=[codec.decode_fill(f) for f in raw["fills"]],
            pnl=[_pnl_event(p) for p in raw["pnl"]],
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise AccountWireError(f"not a day snapshot: {exc!r}") from None


# A day snapshot can outgrow one NATS message (1 MB by default: a busy day's orders and a
# week of fills). The core sends it in chunks: the first request (an empty payload) takes a
# snapshot and answers its first chunk with the snapshot's id and chunk count; later requests
# name the id and the chunk. Every chunk is `{"id", "chunk", "chunks"}` JSON, a newline, bytes.


def encode_chunk(snapshot_id: str, index: int, count: int, body: bytes) -> bytes:
    head = orjson.dumps({"id": snapshot_id, "chunk": index, "chunks": count})
    return head + b"\n" + body


def decode_chunk(data: bytes) -> tuple[str, int, int, bytes]:
    """(id, index, count, body) of a chunk. Raises AccountWireError for anything else (a
    count of 0 means the core no longer holds that snapshot)."""
    head, sep, body = data.partition(b"\n")
    try:
        raw = orjson.loads(head)
        snapshot_id, index, count = str(raw["id"]), int(raw["chunk"]), int(raw["chunks"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise AccountWireError(f"not a snapshot chunk: {exc!r}") from None
    if not sep:
        raise AccountWireError("a snapshot chunk without its body")
    return snapshot_id, index, count, body


def encode_chunk_request(snapshot_id: str, index: int) -> bytes:
    return orjson.dumps({"id": snapshot_id, "chunk": index})


def decode_chunk_request(data: bytes) -> tuple[str, int] | None:
    """None for "a new snapshot" (an empty payload), else (id, index). Raises
    AccountWireError for anything else."""
    if not data.strip():
        return None
    try:
        raw = orjson.loads(data)
        return str(raw["id"]), int(raw["chunk"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise AccountWireError(f"not a snapshot chunk request: {exc!r}") from None
