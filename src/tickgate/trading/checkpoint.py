"""A checkpoint: the hot trading state as one JSON-able document, and back.

A restart loads the latest checkpoint and replays only the events stored after it, instead of
folding the whole history. The document holds exactly what `TradingState` keeps (working and
the day's orders, the day's fills, fill tallies, taken cOIDs, portfolios, ids, marks);
Decimals are written as exact strings, so a restored state equals the one that was saved.

Cash is kept relative to the account's deposits: a checkpoint restored under a different
configured starting cash shifts cash, deposits and the session's opening value by the
difference, as replaying every fill from the new starting cash would.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from tickgate.model.accounts import AccountConfig
from tickgate.model.instruments import SecType
from tickgate.trading.events import decode_fill, decode_order, encode_fill, encode_order
from tickgate.trading.portfolio import Portfolio, Position
from tickgate.trading.state import FillTally, TradingState

#: Bumped when the document's shape changes; an unknown version is not restored (full replay).
VERSION = 1


def encode_state(state: TradingState) -> dict[str, Any]:
    """The checkpoint document of `state`."""
    return {
        "version": VERSION,
        "next_order_id": state.next_order_id,
        "session_start_ns": state.session_start_ns,
        "set_aside": state.set_aside,
        "last_prices": {str(c): str(p) for c, p in state.last_prices.items()},
        "orders": [encode_order(o) for o in state.orders.values()],
        "fills": [encode_fill(f) for f in state.fills],
        "tallies": {str(i): [t.count, str(t.commission)] for i, t in state.tallies.items()},
        "client_ids": [[account, c_oid, i] for (account, c_oid), i in state.client_ids.items()],
        "portfolios": {a: _encode_portfolio(p) for a, p in state.portfolios.items()},
    }


def restore_state(document: dict[str, Any], accounts: Iterable[AccountConfig]) -> TradingState:
    """The state `encode_state` saved, for the configured `accounts`.

    An account configured now but absent from the checkpoint starts fresh; one in the
    checkpoint but no longer configured is dropped. Raises ValueError for a document of
    another version, KeyError/TypeError for a malformed one.
    """
    if document.get("version") != VERSION:
        raise ValueError(f"unsupported checkpoint version {document.get('version')!r}")
    state = TradingState.empty(accounts)
    for order in document["orders"]:
        state.put(decode_order(order))
    for account, c_oid, order_id in document["client_ids"]:
        state.client_ids[(str(account), str(c_oid))] = int(order_id)
    state.next_order_id = int(document["next_order_id"])
    state.session_start_ns = int(document["session_start_ns"])
    state.set_aside = bool(document["set_aside"])
    state.last_prices = {int(c): Decimal(p) for c, p in document["last_prices"].items()}
    state.fills = [decode_fill(f) for f in document["fills"]]
    state.tallies = {
        int(i): FillTally(int(count), Decimal(paid))
        for i, (count, paid) in document["tallies"].items()
    }
    for account, saved in document["portfolios"].items():
        portfolio = state.portfolios.get(account)
        if portfolio is not None:
            _restore_portfolio(portfolio, saved)
    return state


def _encode_portfolio(portfolio: Portfolio) -> dict[str, Any]:
    return {
        "cash": str(portfolio.cash),
        "deposits": str(portfolio.deposits),
        "commissions": str(portfolio.commissions),
        "realized": str(portfolio.realized),
        "session_open": str(portfolio.session_open_net_liquidation),
        "positions": [_encode_position(p) for p in portfolio.positions.values()],
    }


def _encode_position(p: Position) -> list[Any]:
    return [
        p.conid, p.sec_type.value, p.multiplier, str(p.quantity), str(p.cost), str(p.realized),
        str(p.mark),
    ]  # fmt: skip


def _restore_portfolio(portfolio: Portfolio, saved: dict[str, Any]) -> None:
    shift = portfolio.deposits - Decimal(saved["deposits"])
    portfolio.cash = Decimal(saved["cash"]) + shift
    portfolio.deposits = Decimal(saved["deposits"]) + shift
    portfolio.commissions = Decimal(saved["commissions"])
    portfolio.realized = Decimal(saved["realized"])
    portfolio.session_open_net_liquidation = Decimal(saved["session_open"]) + shift
    for conid, sec_type, multiplier, quantity, cost, realized, mark in saved["positions"]:
        portfolio.positions[int(conid)] = Position(
            int(conid), SecType(sec_type), int(multiplier), Decimal(quantity), Decimal(cost),
            Decimal(realized), Decimal(mark),
        )  # fmt: skip
