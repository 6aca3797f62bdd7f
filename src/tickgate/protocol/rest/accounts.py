"""REST shapes of an account (reference §8.2, §8.5): positions, P&L rows, the summary and the
ledger, and the nine summary figures, named once for REST and the `ssd` stream.

The engine's portfolio types live in `trading`, above this layer; the structural types below
name only what a shape reads, so any object with those members renders (the engine's
`Portfolio`, `Position` and `PnlChanged` do).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Protocol

from tickgate.model.accounts import AccountConfig
from tickgate.model.instruments import Instrument
from tickgate.protocol.decimals import number


class Holding(Protocol):
    """One position as a row shows it."""

    @property
    def conid(self) -> int: ...
    @property
    def quantity(self) -> Decimal: ...
    @property
    def mark(self) -> Decimal: ...
    @property
    def market_value(self) -> Decimal: ...
    @property
    def avg_price(self) -> Decimal: ...
    @property
    def multiplier(self) -> int: ...
    @property
    def realized(self) -> Decimal: ...
    @property
    def unrealized(self) -> Decimal: ...


class PnlFigures(Protocol):
    """An account's P&L as the `upnl` rows and the `spl` stream show it."""

    @property
    def daily(self) -> Decimal: ...
    @property
    def net_liquidation(self) -> Decimal: ...
    @property
    def unrealized(self) -> Decimal: ...
    @property
    def excess_liquidity(self) -> Decimal: ...
    @property
    def market_value(self) -> Decimal: ...


class AccountFigures(Protocol):
    """An account's balances as the summary and the ledger show them."""

    @property
    def config(self) -> AccountConfig: ...
    @property
    def cash(self) -> Decimal: ...
    @property
    def commissions(self) -> Decimal: ...
    @property
    def realized(self) -> Decimal: ...
    @property
    def unrealized(self) -> Decimal: ...
    @property
    def market_value(self) -> Decimal: ...
    @property
    def net_liquidation(self) -> Decimal: ...
    @property
    def buying_power(self) -> Decimal: ...
    @property
    def excess_liquidity(self) -> Decimal: ...
    @property
    def available_funds(self) -> Decimal: ...
    @property
    def gross_position_value(self) -> Decimal: ...
    @property
    def initial_margin(self) -> Decimal: ...
    @property
    def maintenance_margin(self) -> Decimal: ...


#: The nine monetary summary figures: IBKR's name (as the `ssd` stream spells it; REST uses it
#: in lower case) and the `AccountFigures` member it reports. Equity with loan value is the net
#: liquidation value: the simulator lends nothing.
SUMMARY_FIGURES: tuple[tuple[str, str], ...] = (
    ("NetLiquidation", "net_liquidation"),
    ("TotalCashValue", "cash"),
    ("BuyingPower", "buying_power"),
    ("ExcessLiquidity", "excess_liquidity"),
    ("AvailableFunds", "available_funds"),
    ("EquityWithLoanValue", "net_liquidation"),
    ("GrossPositionValue", "gross_position_value"),
    ("InitMarginReq", "initial_margin"),
    ("MaintMarginReq", "maintenance_margin"),
)


def summary_figures(account: AccountFigures) -> dict[str, Decimal]:
    """The nine summary figures of `account` by IBKR name, in `SUMMARY_FIGURES` order."""
    return {name: getattr(account, member) for name, member in SUMMARY_FIGURES}


def _ms(ns: int) -> int:
    return ns // 1_000_000


def position_row(account: str, position: Holding, instrument: Instrument) -> dict[str, Any]:
    """A position as in `GET /portfolio/{acct}/positions/{page}`."""
    return {
        "acctId": account,
        "conid": position.conid,
        "contractDesc": instrument.symbol,
        "position": number(position.quantity),
        "mktPrice": number(position.mark),
        "mktValue": number(position.market_value),
        "currency": instrument.currency,
        "avgCost": number(position.avg_price * position.multiplier),
        "avgPrice": number(position.avg_price),
        "realizedPnl": number(position.realized),
        "unrealizedPnl": number(position.unrealized),
        "exchs": None,
        "expiry": instrument.expiry,
        "putOrCall": instrument.right.value if instrument.right else None,
        "multiplier": instrument.multiplier if instrument.multiplier != 1 else None,
        "strike": number(instrument.strike or Decimal(0)),
        "exerciseStyle": None,
        "conExchMap": [],
        "assetClass": instrument.sec_type.value,
        "undConid": instrument.underlying_conid or 0,
        "model": "",
        "ticker": instrument.symbol,
        "name": instrument.name,
    }


def pnl_row(event: PnlFigures) -> dict[str, Any]:
    """One `upnl` entry of `/iserver/account/pnl/partitioned` and the `spl` stream."""
    return {
        "rowType": 1,
        "dpl": number(event.daily),
        "nl": number(event.net_liquidation),
        "upl": number(event.unrealized),
        "el": number(event.excess_liquidity),
        "uel": number(event.excess_liquidity),
        "mv": number(event.market_value),
    }


def summary(portfolio: AccountFigures, now_ns: int) -> dict[str, Any]:
    """`GET /portfolio/{acct}/summary`: lower-case keys to amount objects."""
    ccy, ts = portfolio.config.base_currency, _ms(now_ns)

    def money(value: Decimal) -> dict[str, Any]:
        return {
            "amount": number(value),
            "currency": ccy,
            "isNull": False,
            "timestamp": ts,
            "value": None,
            "severity": 0,
        }

    out: dict[str, Any] = {
        "accountcode": {
            "amount": 0.0,
            "currency": None,
            "isNull": False,
            "timestamp": ts,
            "value": portfolio.config.account_id,
            "severity": 0,
        },
    }
    for name, value in summary_figures(portfolio).items():
        key = name.lower()
        out[key] = out[f"{key}-s"] = money(value)
    return out


def ledger(portfolio: AccountFigures, now_ns: int) -> dict[str, Any]:
    """`GET /portfolio/{acct}/ledger`: one entry for the base currency and one as BASE."""
    ccy = portfolio.config.base_currency

    def entry(second_key: str) -> dict[str, Any]:
        return {
            "acctcode": portfolio.config.account_id,
            "cashbalance": number(portfolio.cash),
            "settledcash": number(portfolio.cash),
            "netliquidationvalue": number(portfolio.net_liquidation),
            "unrealizedpnl": number(portfolio.unrealized),
            "realizedpnl": number(portfolio.realized),
            "stockmarketvalue": number(portfolio.market_value),
            "exchangerate": 1.0,
            "commissions": number(portfolio.commissions),
            "currency": ccy,
            "key": "LedgerList",
            "secondkey": second_key,
            "timestamp": now_ns // 1_000_000_000,
            "severity": 0,
        }

    return {ccy: entry(ccy), "BASE": entry("BASE")}
