"""REST: Financial Advisor model portfolios (`/fa/model/*`, `/fa/fa-preset/*`), in IBKR's
shapes, every figure computed by `ModelDesk` from the paper engine's fills and marks.

IBKR's routes are all POST with a JSON body naming `reqID` (echoed) and `model`. Every route
answers 400 for a login that is no advisor, 404 for an unknown model, 400 for a bad body.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from aiohttp import web

from tickgate.errors import RequestError
from tickgate.model.instruments import SecType
from tickgate.server.gateway import gateway_of
from tickgate.server.http import Handler, json_body, json_response
from tickgate.trading.errors import OrderRejected
from tickgate.trading.fa_models import SORT_FIELDS, Line, Model, ModelDesk, Transfers

_CENT = Decimal("0.01")


def _desk(request: web.Request) -> ModelDesk:
    return gateway_of(request).models


async def _body(request: web.Request) -> dict[str, Any]:
    _desk(request).require_advisor()  # the advisor's 400 comes before any body's
    return await json_body(request)


def _req_id(body: Mapping[str, Any]) -> int:
    value = body.get("reqID", 0)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << 63:
        raise RequestError(f"Invalid reqID: {value!r}; expected a non-negative integer")
    return value


def money(value: Decimal) -> str:
    """IBKR's money strings: cents, trailing zeros dropped ("974589.5", "0")."""
    text = f"{value.quantize(_CENT):f}"
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return "0" if text in ("-0", "") else text


def _fraction(value: Decimal) -> float:
    return float(round(value, 6))


def _summary(desk: ModelDesk, model: Model) -> dict[str, Any]:
    stakes = desk.stakes(model)
    return {
        "bootstrapped": True,
        "customIndex": False,
        "desc": model.desc,
        "isStatic": model.is_static,
        "mismatch": any(s.outside_range() for s in stakes),
        "model": model.name,
        "nlv": float(sum((s.nlv for s in stakes), Decimal(0)).quantize(_CENT)),
        "numAccounts": len(stakes),
    }


async def model_list(request: web.Request) -> web.Response:
    body = await _body(request)
    desk = _desk(request)
    return json_response(
        {
            "baseCcy": desk.base_currency,
            "masterAccount": desk.require_advisor(),
            "models": [_summary(desk, m) for m in desk.models()],
            "reqID": _req_id(body),
            "subscriptionStatus": 1,
        }
    )


async def model_summary(request: web.Request) -> web.Response:
    body = await _body(request)
    desk = _desk(request)
    summary = _summary(desk, desk.model(body.get("model")))
    return json_response({**summary, "reqID": _req_id(body), "subscriptionStatus": 1})


def _position_row(lines: list[Line], nlv: Decimal) -> dict[str, Any]:
    line = lines[0]
    instrument = line.instrument
    value = sum((ln.market_value for ln in lines), Decimal(0))
    quantity = sum((ln.quantity for ln in lines), Decimal(0))
    actual = value / nlv if nlv else Decimal(0)
    return {
        "actual": _fraction(actual),
        "actualRangeMax": _fraction(line.target),
        "actualRangeMin": _fraction(line.target),
        "ccy": instrument.currency,
        "conid": instrument.conid,
        "dlv": float(value.quantize(_CENT)),
        "exchangeRate": 1,
        "flags": 0,
        "instrumentImbalance": _fraction(actual - line.target),
        "instrument": instrument.symbol,
        "mismatchType": 0,
        "mv": float(value.quantize(_CENT)),
        "position": float(quantity),
        "target": _fraction(line.target),
    }


async def model_positions(request: web.Request) -> web.Response:
    body = await _body(request)
    desk = _desk(request)
    model = desk.model(body.get("model"))
    sort_field, direction, limit = _sorting(body)
    stakes = desk.stakes(model)
    nlv = sum((s.nlv for s in stakes), Decimal(0))
    cash = sum((s.cash for s in stakes), Decimal(0))
    by_conid: dict[int, list[Line]] = {t.conid: [] for t in model.targets}
    for stake in stakes:
        for line in stake.lines:
            by_conid.setdefault(line.instrument.conid, []).append(line)
    rows = []
    for conid, lines in by_conid.items():
        if not lines:  # no account invested: the target alone, nothing held
            nothing = Decimal(0)
            instrument = desk.engine.instrument(conid)
            lines = [Line(instrument, nothing, nothing, nothing, model.weight_of(conid))]
        rows.append(_position_row(lines, nlv))
    if sort_field is not None:
        rows.sort(key=lambda r: r[sort_field], reverse=direction == "DESC")
    total_mv = sum((Decimal(str(r["mv"])) for r in rows), Decimal(0))
    cash_actual = cash / nlv if nlv else Decimal(0)
    return json_response(
        {
            "cash": [
                {
                    "actual": _fraction(cash_actual),
                    "ccy": model.cash_currency,
                    "exchangeRate": 1,
                    "instrumentImbalance": _fraction(cash_actual - model.cash_weight),
                    "mv": float(cash.quantize(_CENT)),
                    "target": _fraction(model.cash_weight),
                }
            ],
            "mismatched": any(s.outside_range() for s in stakes),
            "model": model.name,
            "nlv": float(nlv.quantize(_CENT)),
            "positionList": rows[:limit] if limit is not None else rows,
            "positionTs": desk.engine.desk.clock.now_ns() // 1_000_000,
            "reqID": _req_id(body),
            "stkOnly": all(
                desk.engine.instrument(t.conid).sec_type is SecType.STK for t in model.targets
            ),
            "subscriptionStatus": 1,
            "totalDlv": float(total_mv),
            "totalMv": float(total_mv),
        }
    )


def _sorting(body: Mapping[str, Any]) -> tuple[str | None, str, int | None]:
    field = body.get("sortField")
    if field is not None and field not in SORT_FIELDS:
        raise RequestError(
            f"Invalid sortField: {field!r}; expected one of {', '.join(SORT_FIELDS)}"
        )
    direction = body.get("sortDirection", "ASC")
    if direction not in ("ASC", "DESC"):
        raise RequestError(f"Invalid sortDirection: {direction!r}; expected ASC or DESC")
    limit = body.get("limit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise RequestError(f"Invalid limit: {limit!r}; expected a positive integer")
    return field, direction, limit


async def accounts_details(request: web.Request) -> web.Response:
    body = await _body(request)
    desk = _desk(request)
    model = desk.model(body.get("model"))
    calc = body.get("calcPnls", True)
    if not isinstance(calc, bool):
        raise RequestError("calcPnls must be true or false")
    rows = []
    totals = [Decimal(0)] * 4  # cost basis, nlv, unrealized, independent cash
    outside = 0
    for stake in desk.stakes(model):
        cost = sum((ln.cost for ln in stake.lines), Decimal(0))
        unrealized = stake.market_value - cost
        free = desk.independent_cash(stake.holding.account)
        for i, value in enumerate((cost, stake.nlv, unrealized, free)):
            totals[i] += value
        outside += stake.outside_range()
        rows.append(
            _account_row(
                stake.holding.account,
                stake.imbalance(),
                cost,
                stake.nlv,
                stake.outside_range(),
                unrealized if calc else None,
                free,
            )
        )
    cost, nlv, unrealized, free = totals
    rows.append(
        _account_row(
            "TOTAL",
            Decimal(0),
            cost,
            nlv,
            outside,
            unrealized if calc else None,
            free,
            alias="None",
        )
    )
    return json_response(
        {
            "accountInfoList": rows,
            "baseCcyMaster": desk.base_currency,
            "model": model.name,
            "reqID": _req_id(body),
        }
    )


def _account_row(
    account: str,
    imbalance: Decimal,
    cost: Decimal,
    nlv: Decimal,
    outside: int,
    unrealized: Decimal | None,
    independent: Decimal,
    *,
    alias: str = "",
) -> dict[str, Any]:
    return {
        "account": account,
        "accountImbalance": f"{round(imbalance, 6):f}" if imbalance else "0",
        "alias": alias,
        "baseCcyAccount": "USD",
        "costBasis": money(cost),
        "exchangeRate": 1,
        "nlv": money(nlv),
        "numInstrumentsOutsideRange": outside,
        "unrealizedPnL": money(unrealized) if unrealized is not None else "0",
        "cashInIndependent": money(independent),
    }


async def invested_accounts(request: web.Request) -> web.Response:
    body = await _body(request)
    desk = _desk(request)
    model = desk.model(body.get("model"))
    rows = []
    for stake in desk.stakes(model):
        account = stake.holding.account
        portfolio = desk.engine.journal.portfolio_of(account)
        others = [s for s in desk.account_models(account) if s.holding.model != model.name]
        in_models = stake.market_value + sum((s.market_value for s in others), Decimal(0))
        rows.append(
            {
                "account": account,
                "accountModelNlv": money(stake.nlv),
                "accountOtherModelsNlv": money(sum((s.nlv for s in others), Decimal(0))),
                "alias": "",
                "baseCcyAccount": portfolio.config.base_currency,
                "baseCcyAccountPrecision": "0.01",
                "exchangeRate": 1,
                "cashInIndependentNlv": money(desk.independent_cash(account)),
                "positionsInIndependentNlv": money(portfolio.market_value - in_models),
                "nlv": money(portfolio.net_liquidation),
            }
        )
    return json_response(
        {
            "accountList": rows,
            "baseCcyMaster": desk.base_currency,
            "baseCcyMasterPrecision": "0.01",
            "model": model.name,
            "reqID": _req_id(body),
            "subscriptionStatus": 1,
        }
    )


async def save(request: web.Request) -> web.Response:
    body = await _body(request)
    req_id = _req_id(body)
    _desk(request).save(body)
    return json_response({"reqID": req_id, "success": True})


def _drafted(body: Mapping[str, Any], draft: Transfers) -> dict[str, Any]:
    transfers = [
        {
            "account": account,
            "conid": order.conid,
            "side": order.side.value,
            "quantity": float(order.quantity),
            "orderType": order.order_type.value,
        }
        for account, batch in draft.orders
        for order in batch
    ]
    return {
        "reqID": str(_req_id(body)),
        "subscriptionStatus": 1,
        "subscriptionKey": str(draft.instruction_id),
        "transfersInstructionId": draft.instruction_id,
        "model": draft.model,
        "transfers": transfers,
    }


async def invest_divest(request: web.Request) -> web.Response:
    body = await _body(request)
    desk = _desk(request)
    _req_id(body)
    draft = desk.invest_divest(desk.model(body.get("model")), body.get("accountList"))
    return json_response(_drafted(body, draft))


async def rebalance(request: web.Request) -> web.Response:
    body = await _body(request)
    desk = _desk(request)
    _req_id(body)
    return json_response(_drafted(body, desk.rebalance(desk.model(body.get("model")))))


async def submit_transfers(request: web.Request) -> web.Response:
    body = await _body(request)
    desk = _desk(request)
    req_id = _req_id(body)
    try:
        placed = desk.submit(desk.draft(body.get("fpOrderId")))
    except OrderRejected as exc:  # not an order route: a refused draft is a bad request
        raise RequestError(exc.message) from None
    return json_response(
        {"reqID": req_id, "success": True, "orderIds": [str(o.order_id) for o in placed]}
    )


async def presets(request: web.Request) -> web.Response:
    body = await _body(request)
    flags = _desk(request).presets().to_document()
    return json_response({**flags, "reqID": _req_id(body), "subscriptionStatus": 1})


async def set_presets(request: web.Request) -> web.Response:
    body = await _body(request)
    req_id = _req_id(body)
    _desk(request).set_presets(body)
    return json_response({"reqID": req_id, "success": True})


ROUTES: list[tuple[str, str, Handler]] = [
    ("POST", "/fa/model/list", model_list),
    ("POST", "/fa/model/summary", model_summary),
    ("POST", "/fa/model/positions", model_positions),
    ("POST", "/fa/model/accounts-details", accounts_details),
    ("POST", "/fa/model/invest-divest-positions", invested_accounts),
    ("POST", "/fa/model/save", save),
    ("POST", "/fa/model/invest-divest", invest_divest),
    ("POST", "/fa/model/rebalance/to-existing-targets", rebalance),
    ("POST", "/fa/model/submit-transfers", submit_transfers),
    ("POST", "/fa/fa-preset/get", presets),
    ("POST", "/fa/fa-preset/save", set_presets),
]
