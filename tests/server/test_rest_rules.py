"""Contract details, trading rules, algos, all conids, currency pairs and exchange rates over a
real socket: IBKR's documented keys and types, and rules the paper engine really holds orders
to (each reported rule is tried against the placement path)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from tests.conftest import call
from tests.server.fixed_market import FixedMarket, start_fixed
from tests.server.test_rest_orders import ACCT

from tickgate.server.app import RunningServer

AAPL, EURUSD, USDJPY = 265598, 12087792, 15016059
QUOTES = {
    AAPL: ("199.98", "200.02", "200.00"),
    EURUSD: ("1.10000", "1.10010", "1.10005"),
    USDJPY: ("150.000", "150.010", "150.005"),
}
#: One valid order body per rule name (the API's orderType spelling and its prices).
ORDER_BODIES: dict[str, dict[str, Any]] = {
    "market": {"orderType": "MKT"},
    "limit": {"orderType": "LMT", "price": 190},
    "stop": {"orderType": "STP", "price": 210},
    "stop_limit": {"orderType": "STOP_LIMIT", "price": 211, "auxPrice": 210},
    "trailing_stop": {"orderType": "TRAIL", "trailingAmt": 1, "trailingType": "amt"},
    "trailing_stop_limit": {"orderType": "TRAILLMT", "trailingAmt": 1, "trailingType": "amt"},
    "marketonclose": {"orderType": "MOC"},
    "limitonclose": {"orderType": "LOC", "price": 190},
}
INFO_KEYS = {
    "cfi_code": str, "symbol": str, "con_id": int, "instrument_type": str, "trading_class": str,
    "valid_exchanges": str, "allow_sell_long": bool, "is_zero_commission_security": bool,
    "local_symbol": str, "currency": str, "underlying_con_id": int, "r_t_h": bool,
    "company_name": str, "smart_available": bool, "exchange": str,
}  # fmt: skip
NULLABLE_INFO_KEYS = {"cusip", "expiry_full", "maturity_date", "industry", "classifier", "text",
                      "contract_clarification_type", "multiplier", "underlying_issuer",
                      "contract_month", "category"}  # fmt: skip
RULE_KEYS = {
    "algoEligible": bool, "canTradeAcctIds": list, "orderTypes": list, "ibAlgoTypes": list,
    "fraqTypes": list, "cqtTypes": list, "orderDefaults": dict, "orderTypesOutside": list,
    "defaultSize": int, "cashSize": float, "sizeIncrement": float, "tifTypes": list,
    "tifDefaults": dict, "limitPrice": float, "stopprice": float, "preview": bool,
    "forceOrderPreview": bool, "fraqInt": int, "cashCcy": str, "negativeCapable": bool,
    "incrementType": int, "incrementRules": list, "increment": float, "incrementDigits": int,
}  # fmt: skip


@pytest.fixture
async def fixed(tmp_path: Path) -> AsyncIterator[RunningServer]:
    server = await start_fixed(tmp_path, FixedMarket(QUOTES))
    yield server
    await server.stop()


def assert_types(body: dict[str, Any], types: dict[str, type]) -> None:
    for key, kind in types.items():
        assert isinstance(body[key], kind), (key, body[key])


async def test_info_and_info_and_rules(fixed: RunningServer, http: aiohttp.ClientSession) -> None:
    for prefix in ("/v1/api", "/v1/portal"):
        base = fixed.base_url + prefix
        info = await call(http, "GET", f"{base}/iserver/contract/{AAPL}/info")
        assert set(info) == set(INFO_KEYS) | NULLABLE_INFO_KEYS
        assert_types(info, INFO_KEYS)
        assert (info["con_id"], info["symbol"], info["instrument_type"]) == (AAPL, "AAPL", "STK")
        both = await call(http, "GET", f"{base}/iserver/contract/{AAPL}/info-and-rules?isBuy=true")
        assert {k: v for k, v in both.items() if k != "rules"} == info
        assert_types(both["rules"], RULE_KEYS)
        assert both["rules"]["canTradeAcctIds"] == [ACCT]
        assert both["rules"]["limitPrice"] == 200.0  # the last trade
    bad = await call(http, "GET", f"{base}/iserver/contract/1/info", status=400)
    assert bad == {"error": "Invalid conid 1"}
    await call(http, "GET", f"{base}/iserver/contract/x/info", status=400)
    await call(
        http, "GET", f"{base}/iserver/contract/{AAPL}/info-and-rules?isBuy=maybe", status=400
    )


async def test_post_rules_and_its_errors(fixed: RunningServer, http: aiohttp.ClientSession) -> None:
    base = fixed.base_url + "/v1/api"
    url = f"{base}/iserver/contract/rules"
    rules = await call(http, "POST", url, json={"conid": AAPL, "isBuy": True})
    both = await call(http, "GET", f"{base}/iserver/contract/{AAPL}/info-and-rules")
    assert rules == both["rules"]
    modify = await call(http, "POST", url, json={"conid": str(AAPL), "modifyOrder": True,
                                                 "orderId": 7})  # fmt: skip
    assert modify == rules
    assert "conid" in (await call(http, "POST", url, json={}, status=400))["error"]
    await call(http, "POST", url, json={"conid": 1}, status=400)
    await call(http, "POST", url, json={"conid": AAPL, "isBuy": "perhaps"}, status=400)


async def place(http: aiohttp.ClientSession, base: str, order: dict[str, Any]) -> Any:
    url = f"{base}/iserver/account/{ACCT}/orders"
    return await call(http, "POST", url, json={"orders": [order]})


def refused(answer: Any) -> bool:
    return isinstance(answer, dict) and "error" in answer


async def test_reported_order_types_and_tifs_are_what_placement_accepts(
    fixed: RunningServer, http: aiohttp.ClientSession
) -> None:
    base = fixed.base_url + "/v1/api"
    rules = (await call(http, "GET", f"{base}/iserver/contract/{AAPL}/info-and-rules"))["rules"]
    assert set(rules["orderTypes"]) == set(ORDER_BODIES)  # every type the engine knows
    for entry in rules["tifTypes"]:
        tif, _, tail = entry.partition("/")
        limited = {p.lower() for p in tail.split(",") if p and p not in ("o", "a")}
        allowed = limited or set(rules["orderTypes"])
        for name, body in ORDER_BODIES.items():
            order = {"conid": AAPL, "side": "BUY", "quantity": 1, "tif": tif, **body}
            answer = await place(http, base, order)
            assert refused(answer) is (name not in allowed), (tif, name, answer)


async def test_reported_increments_are_enforced(
    fixed: RunningServer, http: aiohttp.ClientSession
) -> None:
    base = fixed.base_url + "/v1/api"
    url = f"{base}/iserver/contract/rules"
    stock = await call(http, "POST", url, json={"conid": AAPL})
    fx = await call(http, "POST", url, json={"conid": EURUSD})
    assert (stock["increment"], stock["incrementDigits"], stock["sizeIncrement"]) == (0.01, 2, 1.0)
    assert stock["fraqTypes"] == [] and fx["fraqTypes"] == fx["orderTypes"]
    assert fx["increment"] == 0.00005 and fx["incrementRules"][0]["increment"] == 0.00005
    limit = {"side": "BUY", "orderType": "LMT", "tif": "DAY"}
    tick = Decimal(str(stock["increment"]))
    on_grid = await place(http, base, {**limit, "conid": AAPL, "quantity": 1, "price": 199})
    off_grid = await place(http, base, {**limit, "conid": AAPL, "quantity": 1,
                                        "price": str(199 + tick / 2)})  # fmt: skip
    assert not refused(on_grid) and "minimum price variation" in off_grid["error"]
    whole = await place(http, base, {**limit, "conid": AAPL, "quantity": 1.5, "price": 199})
    assert "Fractional quantity" in whole["error"]
    fraction = await place(http, base, {**limit, "conid": EURUSD, "quantity": 1000.5,
                                        "price": "1.09990"})  # fmt: skip
    assert not refused(fraction)


async def test_algos_are_none(fixed: RunningServer, http: aiohttp.ClientSession) -> None:
    base = fixed.base_url + "/v1/api"
    url = f"{base}/iserver/contract/{AAPL}/algos?addDescription=1&addParams=1"
    assert await call(http, "GET", url) == {"algos": []}
    await call(http, "GET", f"{base}/iserver/contract/1/algos", status=400)


async def test_all_conids_of_an_exchange(fixed: RunningServer, http: aiohttp.ClientSession) -> None:
    base = fixed.base_url + "/v1/api"
    nasdaq = await call(http, "GET", f"{base}/trsrv/all-conids?exchange=nasdaq")
    assert {"ticker": "AAPL", "conid": AAPL, "exchange": "NASDAQ"} in nasdaq
    assert all(set(r) == {"ticker", "conid", "exchange"} for r in nasdaq)
    assert all(r["exchange"] == "NASDAQ" for r in nasdaq)
    fx = await call(http, "GET", f"{base}/trsrv/all-conids?exchange=IDEALPRO&assetClass=CASH")
    assert {"ticker": "EUR.USD", "conid": EURUSD, "exchange": "IDEALPRO"} in fx
    assert await call(http, "GET", f"{base}/trsrv/all-conids?exchange=NOWHERE") == []
    await call(http, "GET", f"{base}/trsrv/all-conids", status=400)
    await call(http, "GET", f"{base}/trsrv/all-conids?exchange=NYSE&assetClass=BOND", status=400)


async def test_currency_pairs_and_rates(fixed: RunningServer, http: aiohttp.ClientSession) -> None:
    base = fixed.base_url + "/v1/api"
    pairs = await call(http, "GET", f"{base}/iserver/currency/pairs?currency=USD")
    assert set(pairs) == {"USD"}
    assert {"symbol": "EUR.USD", "conid": EURUSD, "ccyPair": "EUR"} in pairs["USD"]
    assert {"symbol": "USD.JPY", "conid": USDJPY, "ccyPair": "JPY"} in pairs["USD"]
    eur = await call(http, "GET", f"{base}/iserver/currency/pairs?currency=eur")
    assert eur == {"EUR": [{"symbol": "EUR.USD", "conid": EURUSD, "ccyPair": "USD"}]}

    async def rate(source: str, target: str) -> Decimal:
        body = await call(
            http, "GET", f"{base}/iserver/exchangerate?source={source}&target={target}"
        )
        assert set(body) == {"rate"} and isinstance(body["rate"], float)
        return Decimal(str(body["rate"]))

    eurusd = (Decimal("1.10000") + Decimal("1.10010")) / 2  # the quote's mid
    usdjpy = (Decimal("150.000") + Decimal("150.010")) / 2
    assert await rate("EUR", "USD") == eurusd
    assert abs(await rate("USD", "EUR") - 1 / eurusd) < Decimal("1e-12")
    assert abs(await rate("EUR", "JPY") - eurusd * usdjpy) < Decimal("1e-9")  # through USD
    assert await rate("USD", "USD") == 1
    missing = await call(http, "GET", f"{base}/iserver/exchangerate?source=XXX&target=USD",
                         status=400)  # fmt: skip
    assert "XXX" in missing["error"]
    await call(http, "GET", f"{base}/iserver/exchangerate?source=USD", status=400)
    await call(http, "GET", f"{base}/iserver/currency/pairs?currency=U$D", status=400)
