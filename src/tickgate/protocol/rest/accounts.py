"""REST shapes of an account (reference §8.2, §8.5): positions, P&L rows, the summary and the
ledger, and the nine summary figures, named once for REST and the `ssd` stream.

The engine's portfolio types live in `trading`, above this layer; the structural types below
name only what a shape reads, so any object with those members renders (the engine's
`Portfolio`, `Position` and `PnlChanged` do).
"""

from __future__ import annotations

from collections.abc import Sequence
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


class CurrencyFigures(Protocol):
    """One currency's line of the ledger, in that currency."""

    @property
    def currency(self) -> str: ...
    @property
    def exchange_rate(self) -> Decimal: ...
    @property
    def cash(self) -> Decimal: ...
    @property
    def commissions(self) -> Decimal: ...
    @property
    def realized(self) -> Decimal: ...
    @property
    def unrealized(self) -> Decimal: ...
    @property
    def stock_value(self) -> Decimal: ...
    @property
    def option_value(self) -> Decimal: ...
    @property
    def future_value(self) -> Decimal: ...
    @property
    def future_pnl(self) -> Decimal: ...
    @property
    def net_liquidation(self) -> Decimal: ...


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
    @property
    def currencies(self) -> Sequence[CurrencyFigures]: ...


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


def position_row(
    account: str, position: Holding, instrument: Instrument, rate: Decimal = Decimal(1)
) -> dict[str, Any]:
    """A position as in `GET /portfolio/{acct}/positions/{page}`: amounts in the contract's
    `currency`, and the `base*` ones converted to the account's base currency at `rate`."""
    base = {
        "baseMktValue": number(position.market_value * rate),
        "baseMktPrice": number(position.mark * rate),
        "baseAvgCost": number(position.avg_price * position.multiplier * rate),
        "baseAvgPrice": number(position.avg_price * rate),
        "baseRealizedPnl": number(position.realized * rate),
        "baseUnrealizedPnl": number(position.unrealized * rate),
    }
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
        **base,
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


#: Ledger members IBKR lists for kinds of holdings tickgate does not simulate (always 0).
_LEDGER_ZEROS = (
    "commoditymarketvalue", "corporatebondsmarketvalue", "warrantsmarketvalue", "interest",
    "moneyfunds", "funds", "issueroptionsmarketvalue", "tbondsmarketvalue",
    "futureoptionmarketvalue", "cashbalancefxsegment", "tbillsmarketvalue", "dividends",
)  # fmt: skip


def ledger(portfolio: AccountFigures, now_ns: int) -> dict[str, Any]:
    """`GET /portfolio/{acct}/ledger`: one entry per currency the account holds, in that
    currency with its `exchangerate` to the base currency, then `BASE`: every currency's
    amounts converted to the base currency and summed (as IBKR's Campus example shows it,
    `currency` and `secondkey` are "BASE" there)."""
    account, ts = portfolio.config.account_id, now_ns // 1_000_000_000

    def entry(key: str, rate: Decimal, cash: Decimal, values: dict[str, Decimal]) -> dict[str, Any]:
        body: dict[str, Any] = dict.fromkeys(_LEDGER_ZEROS, 0.0)
        body.update(
            {
                "acctcode": account,
                "cashbalance": number(cash),
                "settledcash": number(cash),
                "exchangerate": number(rate),
                "sessionid": 1,
                "currency": key,
                "key": "LedgerList",
                "secondkey": key,
                "timestamp": ts,
                "severity": 0,
            }
        )
        body.update({name: number(value) for name, value in values.items()})
        return body

    out: dict[str, Any] = {}
    for line in portfolio.currencies:
        out[line.currency] = entry(line.currency, line.exchange_rate, line.cash, _line_values(line))
        out[line.currency]["endofbundle"] = 1
    totals = {name: Decimal(0) for name in _line_values(None)}
    for line in portfolio.currencies:
        for name, value in _line_values(line).items():
            totals[name] += value * line.exchange_rate
    totals["netliquidationvalue"] = portfolio.net_liquidation
    totals["unrealizedpnl"] = portfolio.unrealized
    totals["realizedpnl"] = portfolio.realized
    totals["commissions"] = portfolio.commissions
    out["BASE"] = entry("BASE", Decimal(1), portfolio.cash, totals)
    return out


def _line_values(line: CurrencyFigures | None) -> dict[str, Decimal]:
    """The money members of a ledger entry from one currency's line (zeros for None)."""
    if line is None:
        return dict.fromkeys(
            ("netliquidationvalue", "unrealizedpnl", "realizedpnl", "stockmarketvalue",
             "stockoptionmarketvalue", "futuremarketvalue", "futuresonlypnl", "commissions"),
            Decimal(0),
        )  # fmt: skip
    return {
        "netliquidationvalue": line.net_liquidation,
        "unrealizedpnl": line.unrealized,
        "realizedpnl": line.realized,
        "stockmarketvalue": line.stock_value,
        "stockoptionmarketvalue": line.option_value,
        "futuremarketvalue": line.future_value,
        "futuresonlypnl": line.future_pnl,
        "commissions": line.commissions,
    }
