"""REST: Portfolio Analyst — `/pa/performance`, `/pa/allperiods`, `/pa/summary` and
`/pa/transactions`, computed from the daily net-liquidation series and the stored executions
(`tickgate.trading.analyst`; returns by `tickgate.trading.performance`).

Bodies name accounts as `{"acctIds": ["DU1234567", ...]}`; several accounts are consolidated
(values added day by day) where IBKR consolidates, and must then share a base currency. Returns
are fractions (0.0125 is 1.25 %), as IBKR's `cps` arrays carry them; dates are `yyyyMMdd`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from aiohttp import web

from tickgate.clock import NS_PER_DAY, NS_PER_MS, NS_PER_S
from tickgate.errors import RequestError
from tickgate.model.orders import Side
from tickgate.protocol.decimals import number, text
from tickgate.protocol.rest_values import shown
from tickgate.server.gateway import Gateway, gateway_of
from tickgate.server.http import Handler, json_body, json_response, parse_int
from tickgate.server.rest_rules import currency_rates
from tickgate.trading.analyst import PortfolioAnalyst, Transaction
from tickgate.trading.daily_values import DailyValue
from tickgate.trading.performance import (
    ALL_PERIODS,
    PERIODS,
    PeriodReturns,
    consolidated,
    period_returns,
)
from tickgate.trading.sessions import DAY_CALENDAR

#: The name of several accounts' combined figures.
CONSOLIDATED = "consolidated"
#: `/pa/transactions` looks back this many days unless `days` says otherwise (as IBKR).
DEFAULT_TRANSACTION_DAYS = 90
MAX_TRANSACTION_DAYS = 3650
MAX_IDS = 100


def _analyst(gateway: Gateway) -> PortfolioAnalyst:
    return PortfolioAnalyst(gateway.trading.views, gateway.trading.store)


def _ymd(day: date) -> str:
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


def _strings(body: dict[str, Any], name: str) -> list[str]:
    raw = body.get(name)
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not raw or not all(isinstance(v, str) and v for v in raw):
        raise RequestError(
            f'body must name {name} as a list of strings, like {{"{name}": ["DU1"]}}'
        )
    if len(raw) > MAX_IDS:
        raise RequestError(f"too many {name}: at most {MAX_IDS}, got {len(raw)}")
    return list(dict.fromkeys(raw))


def _accounts(gateway: Gateway, body: dict[str, Any]) -> list[str]:
    accounts = _strings(body, "acctIds")
    for account in accounts:
        gateway.trading.views.portfolio_of(account)  # NotFoundError -> 404 for an unknown one
    return accounts


def _base_currency(gateway: Gateway, accounts: Sequence[str]) -> str:
    currencies = {gateway.trading.views.portfolio_of(a).config.base_currency for a in accounts}
    if len(currencies) > 1:
        raise RequestError(
            "cannot consolidate accounts of different base currencies: "
            + ", ".join(sorted(currencies))
        )
    return currencies.pop()


def _series(gateway: Gateway, accounts: Sequence[str]) -> tuple[str, list[DailyValue]]:
    analyst = _analyst(gateway)
    if len(accounts) == 1:
        return accounts[0], analyst.series(accounts[0])
    return CONSOLIDATED, consolidated((analyst.series(a) for a in accounts), CONSOLIDATED)


#: The period `/pa/performance` analyses when the body names none (IBKR's default).
DEFAULT_PERIOD = "12M"


def _period(body: dict[str, Any]) -> str:
    period = body.get("period", DEFAULT_PERIOD)
    if not isinstance(period, str) or period.upper() not in PERIODS:
        raise RequestError(f"period must be one of {', '.join(PERIODS)}, got {shown(period)}")
    return period.upper()


def _start_nav(returns: PeriodReturns) -> dict[str, Any]:
    first = returns.days[0].day - timedelta(days=1) if returns.days else None
    return {"date": _ymd(first) if first else None, "val": number(returns.start_value)}


def _data(name: str, ccy: str, returns: PeriodReturns, values: list[float]) -> dict[str, Any]:
    days = returns.days
    return {
        "id": name,
        "idType": "acctid" if name != CONSOLIDATED else CONSOLIDATED,
        "baseCurrency": ccy,
        "start": _ymd(days[0].day) if days else None,
        "end": _ymd(days[-1].day) if days else None,
        "returns": values,
    }


def performance_body(
    name: str, accounts: Sequence[str], ccy: str, returns: PeriodReturns
) -> dict[str, Any]:
    """The `/pa/performance` answer: `nav` (net liquidation each day), `cps` (cumulative
    return after each day) and `tpps` (each month's return), for one period."""
    dates = [_ymd(d.day) for d in returns.days]
    nav = _data(name, ccy, returns, [])
    del nav["returns"]
    nav["navs"] = [number(d.end) for d in returns.days]
    nav["startNAV"] = _start_nav(returns)
    return {
        "currencyType": "base",
        "rc": 0,
        "nd": len(dates),
        "id": "getPerformanceData",
        "included": list(accounts),
        "pm": "TWR",
        "nav": {"data": [nav], "freq": "D", "dates": dates},
        "cps": {
            "data": [_data(name, ccy, returns, [number(r) for r in returns.cumulative])],
            "freq": "D",
            "dates": dates,
        },
        "tpps": {
            "data": [_data(name, ccy, returns, [number(r) for _, r in returns.months])],
            "freq": "M",
            "dates": [month for month, _ in returns.months],
        },
    }


def _updated(days: Sequence[DailyValue]) -> str:
    at = datetime.fromtimestamp(days[-1].ts_ns / NS_PER_S, UTC) if days else None
    return at.strftime("%Y-%m-%d %H:%M:%S") if at else ""


def all_periods_entry(ccy: str, days: list[DailyValue]) -> dict[str, Any]:
    """One account's `/pa/allperiods` entry: every period's `nav`, `cps` and `dates`."""
    entry: dict[str, Any] = {
        "lastSuccessfulUpdate": _updated(days),
        "start": _ymd(days[0].day) if days else None,
        "end": _ymd(days[-1].day) if days else None,
        "baseCurrency": ccy,
        "periods": list(ALL_PERIODS),
    }
    for period in ALL_PERIODS:
        returns = period_returns(days, period)
        entry[period] = {
            "nav": [number(d.end) for d in returns.days],
            "cps": [number(r) for r in returns.cumulative],
            "freq": "D",
            "dates": [_ymd(d.day) for d in returns.days],
            "startNAV": _start_nav(returns),
            "startNav": _start_nav(returns),  # the older spelling
        }
    return entry


async def performance(request: web.Request) -> web.Response:
    gateway, body = gateway_of(request), await json_body(request)
    accounts = _accounts(gateway, body)
    period = _period(body)
    ccy = _base_currency(gateway, accounts)
    name, days = _series(gateway, accounts)
    return json_response(performance_body(name, accounts, ccy, period_returns(days, period)))


async def all_periods(request: web.Request) -> web.Response:
    """Every period of each named account, keyed by account id (IBKR's per-account view)."""
    gateway, body = gateway_of(request), await json_body(request)
    accounts = _accounts(gateway, body)
    analyst = _analyst(gateway)
    payload: dict[str, Any] = {
        "currencyType": "base",
        "rc": 0,
        "view": list(accounts),
        "id": "getPerformanceAllPeriods",
        "included": list(accounts),
        "pm": "TWR",
    }
    longest = 0
    for account in accounts:
        ccy = gateway.trading.views.portfolio_of(account).config.base_currency
        days = analyst.series(account)
        longest = max(longest, len(days))
        payload[account] = all_periods_entry(ccy, days)
    payload["nd"] = longest
    return json_response(payload)


def _change(start: Decimal, end: Decimal, twr: Decimal) -> dict[str, Any]:
    return {
        "startVal": text(start.quantize(Decimal("0.01"))),
        "endVal": text(end.quantize(Decimal("0.01"))),
        "chg": text((end - start).quantize(Decimal("0.01"))),
        "rtn": text((twr * 100).quantize(Decimal("0.01"))),
    }


def _chained(days: Sequence[DailyValue]) -> Decimal:
    growth = Decimal(1)
    for day in days:
        growth *= 1 + day.day_return
    return growth - 1


async def summary(request: web.Request) -> web.Response:
    """The (deprecated) balance summary since the first kept day: start and end values, the
    change, the time-weighted return in percent, and the balance of each day."""
    gateway, body = gateway_of(request), await json_body(request)
    accounts = _accounts(gateway, body)
    ccy = _base_currency(gateway, accounts)
    analyst = _analyst(gateway)
    per_account = {a: analyst.series(a) for a in accounts}
    _, days = _series(gateway, accounts)
    start, end = days[0].start, days[-1].end
    series = [
        {
            "id": account,
            "groupId": account,
            "name": account,
            "date": [[DAY_CALENDAR.date_start_ns(d.day) // NS_PER_MS, number(d.end)] for d in own],
        }
        for account, own in per_account.items()
    ]
    return json_response(
        {
            "currency": ccy,
            "rc": 0,
            "pm": "TWR",
            "view": ",".join(accounts),
            "userId": "1",
            "startDate": days[0].day.isoformat(),
            "endDate": days[-1].day.isoformat(),
            "lastSuccessfulUpdate": _updated(days),
            "hasExternalAccounts": False,
            "excludedAccounts": [],
            "total": {**_change(start, end, _chained(days)), "incompleteData": False},
            "accountSummaries": [
                {
                    "accountTypeCode": "IB",
                    "accountTypeName": "Interactive Brokers",
                    "hasAccounts": "true",
                    **_change(start, end, _chained(days)),
                }
            ],
            "balanceByDate": {"series": series},
        }
    )


def _conids(body: dict[str, Any]) -> list[int]:
    raw = body.get("conids")
    if isinstance(raw, int | str) and not isinstance(raw, bool):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise RequestError('body must name conids as a list, like {"conids": [265598]}')
    if len(raw) > MAX_IDS:
        raise RequestError(f"too many conids: at most {MAX_IDS}, got {len(raw)}")
    return list(dict.fromkeys(parse_int(v, "conids") for v in raw))


def _days(body: dict[str, Any]) -> int:
    raw = body.get("days", DEFAULT_TRANSACTION_DAYS)
    days = parse_int(raw, "days")
    if not 1 <= days <= MAX_TRANSACTION_DAYS:
        raise RequestError(f"days must be between 1 and {MAX_TRANSACTION_DAYS}, got {days}")
    return days


def _java_date(day: date) -> str:
    """A day as IBKR's transaction rows print it: `Mon Dec 11 00:00:00 EST 2023` (New York)."""
    midnight = datetime.combine(day, time(0), tzinfo=DAY_CALENDAR.zone)
    return midnight.strftime("%a %b %d %H:%M:%S %Z %Y")


def transaction_row(t: Transaction, rate: Decimal) -> dict[str, Any]:
    """One `transactions` entry: quantity signed (sales negative), amount in `currency`."""
    fill, multiplier = t.fill, t.instrument.multiplier
    signed = fill.side.sign * fill.quantity
    return {
        "acctid": fill.account,
        "conid": fill.conid,
        "cur": t.instrument.currency,
        "fxRate": number(rate),
        "pr": number(fill.price),
        "qty": number(signed),
        "amt": number(fill.quantity * fill.price * multiplier * rate),
        "type": "Buy" if fill.side is Side.BUY else "Sell",
        "desc": t.instrument.name,
        "date": _java_date(t.day),
    }


async def transactions(request: web.Request) -> web.Response:
    """Executions of the named accounts and conids over the last `days` days, and the P&L
    they realized, in `currency` (the account's base currency when absent)."""
    gateway, body = gateway_of(request), await json_body(request)
    accounts = _accounts(gateway, body)
    conids = _conids(body)
    days = _days(body)
    currency = body.get("currency")
    if currency is None:
        currency = _base_currency(gateway, accounts)
    if not isinstance(currency, str) or not currency.isalpha() or len(currency) != 3:
        raise RequestError(f"currency must be a currency code like USD, got {shown(currency)}")
    currency = currency.upper()
    now = gateway.clock.now_ns()
    since = now - days * NS_PER_DAY
    found = _analyst(gateway).transactions(accounts, conids, since)
    rates = currency_rates(gateway)
    rows, realized = [], []
    total = Decimal(0)
    for t in found:
        rate = rates.rate(t.instrument.currency, currency)
        if rate is None:
            raise RequestError(
                f"no exchange rate from {t.instrument.currency} to {currency}: "
                "no FX pair links them"
            )
        rows.append(transaction_row(t, rate))
        if t.realized:
            amount = t.realized * rate
            total += amount
            realized.append(
                {
                    "date": _ymd(t.day),
                    "cur": t.instrument.currency,
                    "fxRate": number(rate),
                    "side": "G" if t.realized > 0 else "L",  # a gain or a loss
                    "acctid": t.fill.account,
                    "amt": text(amount.quantize(Decimal("0.0001"))),
                    "conid": str(t.fill.conid),
                }
            )
    return json_response(
        {
            "id": "getTransactions",
            "rc": 0,
            "nd": days,
            "currency": currency,
            "from": since // NS_PER_MS,
            "to": now // NS_PER_MS,
            "includesRealTime": True,
            "transactions": rows,
            "rpnl": {"data": realized, "amt": text(total.quantize(Decimal("0.0001")))},
        }
    )


ROUTES: list[tuple[str, str, Handler]] = [
    ("POST", "/pa/performance", performance),
    ("POST", "/pa/allperiods", all_periods),
    ("POST", "/pa/summary", summary),
    ("POST", "/pa/transactions", transactions),
]
