"""REST: the brokerage account routes — the selected account (`/iserver/account`), the
dynamic-account search for multi-account set-ups, and the account summary with its
`available_funds`, `balances`, `margins` and `market_value` views.

The views split the figures into IBKR's segments (`tickgate.trading.segments`) and amounts are
display text in whole units of the base currency (`"1,000 USD"`), as IBKR shows them; the
summary itself has numbers. `market_value` and the summary's `cashBalances` break the account
down by the currencies of its ledger, with a `Total (in USD)` row in the base currency.
Figures tickgate does not model (interest, SMA, pending charges, post-expiry predictions) are 0,
and the look-ahead and overnight figures are the current ones: the margin model has no
schedule.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aiohttp import web

from tickgate.errors import NotFoundError, RequestError
from tickgate.model.instruments import SecType
from tickgate.protocol.decimals import number
from tickgate.protocol.rest_values import shown
from tickgate.server.gateway import Gateway, gateway_of
from tickgate.server.http import Handler, json_body, json_response
from tickgate.server.rest_session import selected_account
from tickgate.trading.portfolio import ZERO, Portfolio
from tickgate.trading.segments import COMMODITIES, SECURITIES, TOTAL, Segment, segments

#: The longest search pattern taken (account ids and aliases are short).
MAX_PATTERN_LENGTH = 64
#: What `market_value` shows per currency, by IBKR's key, and the security type each counts.
_MARKET_VALUE_KINDS: dict[str, SecType | None] = {
    "stock": SecType.STK,
    "options": SecType.OPT,
    "futures": SecType.FUT,
    "future_options": None,
    "funds": None,
    "dividends_receivable": None,
    "mutual_funds": None,
    "money_market": None,
    "bonds": None,
    "Govt Bonds": None,
    "t_bills": None,
    "warrants": None,
    "issuer_option": None,
    "commodity": None,
    "Notional CFD": None,
    "cfd": None,
    "Cryptocurrency": None,
}


def _portfolio(request: web.Request) -> Portfolio:
    return gateway_of(request).trading.views.portfolio_of(request.match_info["account"])


def _whole(value: Decimal) -> str:
    return f"{value.quantize(Decimal(1)):,}"


def _money(value: Decimal, ccy: str) -> str:
    return f"{_whole(value)} {ccy}"


def _total_label(ccy: str) -> str:
    return f"Total (in {ccy})"


def _cash_rows(gateway: Gateway, portfolio: Portfolio) -> list[dict[str, Any]]:
    """Cash by ledger currency, then the total in the base currency."""
    ledger = gateway.trading.views.ledger(portfolio.config.account_id)
    base = ledger["BASE"]
    rows = [
        {"currency": ccy, "balance": e["cashbalance"], "settledCash": e["settledcash"]}
        for ccy, e in ledger.items()
        if ccy != "BASE"
    ]
    total = {"balance": base["cashbalance"], "settledCash": base["settledcash"]}
    return [*rows, {"currency": _total_label(portfolio.config.base_currency), **total}]


async def summary(request: web.Request) -> web.Response:
    """Today's flat summary: numbers, and cash by currency."""
    portfolio = _portfolio(request)
    parts = segments(portfolio)
    total, securities = parts[TOTAL], parts[SECURITIES]
    body = {
        "accountType": "",
        "status": "",
        "balance": number(total.cash),
        "SMA": 0.0,
        "buyingPower": number(total.buying_power),
        "availableFunds": number(total.available_funds),
        "excessLiquidity": number(total.excess_liquidity),
        "netLiquidationValue": number(total.net_liquidation),
        "equityWithLoanValue": number(total.net_liquidation),
        "regTLoan": 0.0,
        "securitiesGVP": number(securities.gross_position_value),
        "totalCashValue": number(total.cash),
        "accruedInterest": 0.0,
        "regTMargin": number(securities.initial_margin),
        "initialMargin": number(total.initial_margin),
        "maintenanceMargin": number(total.maintenance_margin),
        "cashBalances": _cash_rows(gateway_of(request), portfolio),
    }
    return json_response(body)


def _by_segment(portfolio: Portfolio, view: Any) -> dict[str, dict[str, str]]:
    ccy = portfolio.config.base_currency
    return {
        name: view(name, part, lambda v: _money(v, ccy))
        for name, part in segments(portfolio).items()
    }


def _funds(name: str, part: Segment, money: Any) -> dict[str, str]:
    out = {
        "current_available": money(part.available_funds),
        "current_excess": money(part.excess_liquidity),
        "Prdctd Pst-xpry Excss": money(ZERO),
        "Lk Ahd Avlbl Fnds": money(part.available_funds),
        "Lk Ahd Excss Lqdty": money(part.excess_liquidity),
        "overnight_available": money(part.available_funds),
        "overnight_excess": money(part.excess_liquidity),
    }
    if name != COMMODITIES:
        out["SMA"] = money(ZERO)
    if name == SECURITIES:
        leverage = part.leverage
        out["leverage"] = "n/a" if leverage is None else f"{leverage:.2f}"
    if name == TOTAL:
        out["buying_power"] = money(part.buying_power)
        out["leverage"] = "n/a"
        out["Lk Ahd Nxt Chng"] = "@ 16:00:00"
        out["day_trades_left"] = "Unlimited"
    return out


async def available_funds(request: web.Request) -> web.Response:
    return json_response(_by_segment(_portfolio(request), _funds))


def _balances_view(portfolio: Portfolio) -> Any:
    def view(name: str, part: Segment, money: Any) -> dict[str, str]:
        out = {
            "net_liquidation": money(part.net_liquidation),
            "equity_with_loan": money(part.net_liquidation),
            "cash": money(part.cash),
            "MTD Interest": money(ZERO),
            "Pndng Dbt Crd Chrgs": money(ZERO),
        }
        if name != COMMODITIES:
            out["Prvs Dy Eqty Wth Ln Vl"] = money(portfolio.session_open_net_liquidation)
            out["Rg T Eqty Wth Ln Vl"] = money(part.net_liquidation)
            out["sec_gross_pos_val"] = money(part.gross_position_value)
        if name == TOTAL:
            out["Nt Lqdtn Uncrtnty"] = money(ZERO)
        return out

    return view


async def balances(request: web.Request) -> web.Response:
    portfolio = _portfolio(request)
    return json_response(_by_segment(portfolio, _balances_view(portfolio)))


def _margins(name: str, part: Segment, money: Any) -> dict[str, str]:
    out = {
        "current_initial": money(part.initial_margin),
        "current_maint": money(part.maintenance_margin),
        "Prdctd Pst-xpry Mrgn @ Opn": money(ZERO),
        "projected_liquidity_inital_margin": money(part.initial_margin),
        "Prjctd Lk Ahd Mntnnc Mrgn": money(part.maintenance_margin),
        "projected_overnight_initial_margin": money(part.initial_margin),
        "Prjctd Ovrnght Mntnnc Mrgn": money(part.maintenance_margin),
    }
    if name == SECURITIES:
        # The model's initial margin on securities (50% on stocks) is Reg-T's.
        out["RegT Margin"] = out["RegT_margin"] = money(part.initial_margin)  # and the older key
    return out


async def margins(request: web.Request) -> web.Response:
    portfolio = _portfolio(request)
    parts = segments(portfolio)
    body = _by_segment(portfolio, _margins)
    # The total's Reg-T margin is the securities segment's (futures have no Reg-T margin).
    regt = _money(parts[SECURITIES].initial_margin, portfolio.config.base_currency)
    body[TOTAL]["RegT Margin"] = body[TOTAL]["RegT_margin"] = regt
    return json_response(body)


async def market_value(request: web.Request) -> web.Response:
    """Values by currency of the ledger, then the total in the base currency."""
    gateway, portfolio = gateway_of(request), _portfolio(request)
    ledger = gateway.trading.views.ledger(portfolio.config.account_id)
    base = portfolio.config.base_currency
    body: dict[str, dict[str, str]] = {}
    for ccy, entry in ledger.items():
        own = ccy == "BASE"
        held = [
            p for p in portfolio.positions.values()
            if p.quantity != 0 and (own or p.currency == ccy)
        ]  # fmt: skip

        def amount(values: Any, own: bool = own) -> str:
            # A currency's row is in that currency; the total row converts each amount.
            return _whole(
                sum((portfolio.in_base(v, p.currency) if own else v for p, v in values), ZERO)
            )

        row = {"total_cash": _whole(Decimal(str(entry["cashbalance"]))),
               "settled_cash": _whole(Decimal(str(entry["settledcash"]))),
               "MTD Interest": "0"}  # fmt: skip
        for key, sec_type in _MARKET_VALUE_KINDS.items():
            row[key] = amount((p, p.market_value) for p in held if p.sec_type is sec_type)
        row["net_liquidation"] = _whole(Decimal(str(entry["netliquidationvalue"])))
        row["unrealized_pnl"] = amount((p, p.unrealized) for p in held)
        row["realized_pnl"] = _whole(Decimal(str(entry["realizedpnl"])))
        row["Exchange Rate"] = f"{Decimal(str(entry['exchangerate'])):.2f}"
        body[_total_label(base) if own else ccy] = row
    total = body.pop(_total_label(base))
    body[_total_label(base)] = total  # last, as IBKR lists it
    return json_response(body)


async def _chosen(request: web.Request) -> str:
    account = request.query.get("acctId")
    if account is None and request.method == "POST":
        account = (await json_body(request)).get("acctId")
    if not isinstance(account, str) or not account:
        raise RequestError('name the account as {"acctId": "DU1234567"}')
    if account not in gateway_of(request).account_ids:
        raise NotFoundError(f"Account {shown(account)} does not exist")
    return account


async def switch_account(request: web.Request) -> web.Response:
    """Select the account later requests work on (`selectedAccount` of `/iserver/accounts`)."""
    account = await _chosen(request)
    gateway_of(request).session.selected_account = account
    return json_response({"set": True, "acctId": account})


async def current_account(request: web.Request) -> web.Response:
    """The selected account."""
    account = selected_account(gateway_of(request))
    return json_response({"acctId": account, "selectedAccount": account})


async def search_accounts(request: web.Request) -> web.Response:
    """Accounts whose id contains the pattern, in any case (every account here is one the
    user may switch to, as a multi-account set-up's dynamic accounts are)."""
    pattern = request.match_info["pattern"].strip()
    if not pattern or len(pattern) > MAX_PATTERN_LENGTH:
        raise RequestError(f"the search pattern must have 1 to {MAX_PATTERN_LENGTH} characters")
    needle = pattern.casefold()
    matched = [
        {"accountId": a, "alias": a, "allocationId": a}
        for a in gateway_of(request).account_ids
        if needle in a.casefold()
    ]
    return json_response({"matchedAccounts": matched, "pattern": pattern})


ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/iserver/account", current_account),
    ("POST", "/iserver/account", switch_account),
    ("POST", "/iserver/dynaccount", switch_account),
    # Before `.../{account}/...`, so "search" is never taken for an account id.
    ("GET", "/iserver/account/search/{pattern}", search_accounts),
    ("GET", "/iserver/account/{account}/summary", summary),
    ("GET", "/iserver/account/{account}/summary/available_funds", available_funds),
    ("GET", "/iserver/account/{account}/summary/balances", balances),
    ("GET", "/iserver/account/{account}/summary/margins", margins),
    ("GET", "/iserver/account/{account}/summary/market_value", market_value),
]
