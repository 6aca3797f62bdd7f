"""A checkpoint: the hot trading state as one JSON-able document, and back.

A restart loads the latest checkpoint and replays only the events stored after it, instead of
folding the whole history. The document holds exactly what `TradingState` keeps (working and
the day's orders, the day's fills, fill tallies, taken cOIDs, portfolios, ids, marks);
Decimals are written as exact strings, so a restored state equals the one that was saved.

Cash is kept relative to the account's deposits: a checkpoint restored under a different
configured starting cash shifts the base currency's cash, deposits and the session's opening
value by the difference, as replaying every fill from the new starting cash would.

Version 2 keeps cash, commissions and realized P&L per currency and each position's currency.
A version 1 document (written before other currencies could be traded, so all of it is in the
account's base currency) is read as that.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from tickgate.model.accounts import AccountConfig
from tickgate.model.instruments import SecType
from tickgate.trading.events import decode_fill, decode_order, encode_fill, encode_order
from tickgate.trading.portfolio import CurrencyBook, Portfolio, Position, Rates
from tickgate.trading.state import FillTally, TradingState

#: Bumped when the document's shape changes; an unknown version is not restored (full replay).
VERSION = 2
#: Versions `restore_state` reads (see the module docstring for what 1 lacks).
READABLE = (1, VERSION)


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


def restore_state(
    document: dict[str, Any], accounts: Iterable[AccountConfig], rates: Rates | None = None
) -> TradingState:
    """The state `encode_state` saved, for the configured `accounts` (converting at `rates`).

    An account configured now but absent from the checkpoint starts fresh; one in the
    checkpoint but no longer configured is dropped. Raises ValueError for a document of a
    version not in `READABLE`, KeyError/TypeError for a malformed one.
    """
    if document.get("version") not in READABLE:
        raise ValueError(f"unsupported checkpoint version {document.get('version')!r}")
    state = TradingState.empty(accounts, rates)
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
        "books": {
            ccy: [str(b.cash), str(b.commissions), str(b.realized)]
            for ccy, b in portfolio.books.items()
        },
        "deposits": str(portfolio.deposits),
        "session_open": str(portfolio.session_open_net_liquidation),
        "positions": [_encode_position(p) for p in portfolio.positions.values()],
    }


def _encode_position(p: Position) -> list[Any]:
    return [
        p.conid, p.sec_type.value, p.multiplier, str(p.quantity), str(p.cost), str(p.realized),
        str(p.mark), p.currency,
    ]  # fmt: skip


def _saved_books(portfolio: Portfolio, saved: dict[str, Any]) -> dict[str, CurrencyBook]:
    if "books" not in saved:  # version 1: one amount of each, in the base currency
        book = CurrencyBook(
            Decimal(saved["cash"]), Decimal(saved["commissions"]), Decimal(saved["realized"])
        )
        return {portfolio.base: book}
    return {
        str(ccy): CurrencyBook(Decimal(cash), Decimal(paid), Decimal(made))
        for ccy, (cash, paid, made) in saved["books"].items()
    }


def _restore_portfolio(portfolio: Portfolio, saved: dict[str, Any]) -> None:
    shift = portfolio.deposits - Decimal(saved["deposits"])
    portfolio.books = _saved_books(portfolio, saved)
    portfolio.book(portfolio.base).cash += shift
    portfolio.deposits = Decimal(saved["deposits"]) + shift
    portfolio.session_open_net_liquidation = Decimal(saved["session_open"]) + shift
    for conid, sec_type, multiplier, quantity, cost, realized, mark, *rest in saved["positions"]:
        portfolio.positions[int(conid)] = Position(
            int(conid), SecType(sec_type), int(multiplier), Decimal(quantity), Decimal(cost),
            Decimal(realized), Decimal(mark), str(rest[0]) if rest else portfolio.base,
        )  # fmt: skip
