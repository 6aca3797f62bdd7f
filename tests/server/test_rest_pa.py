"""Portfolio Analyst over a real socket: returns from the daily series that each session close
keeps, on an injected clock driving several closes, in the shapes of IBKR's examples."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from tests.conftest import SERVER_EPOCH_NS, call, make_config
from tests.server.fixed_market import FixedMarket
from tests.server.test_rest_orders import ACCT, place_confirmed

from tickgate.clock import NS_PER_DAY, FakeClock
from tickgate.model.ticks import Tick, TickSink
from tickgate.protocol import fields as F
from tickgate.server.app import RunningServer, build_app, start_server

AAPL = 265598
PREFIXES = ("/v1/api", "/v1/portal")


class MovableMarket(FixedMarket):
    """A fixed market whose AAPL last price the test moves (bid and ask one cent around it)."""

    sink: TickSink | None = None

    async def run(self, sink: TickSink) -> None:
        self.sink = sink
        await super().run(sink)

    def move(self, last: str, ts_ns: int) -> None:
        assert self.sink is not None
        price = Decimal(last)
        values = {F.BID: str(price - Decimal("0.01")), F.ASK: str(price + Decimal("0.01")),
                  F.LAST: last}  # fmt: skip
        self.sink(Tick(AAPL, values, ts_ns))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(SERVER_EPOCH_NS)  # Wednesday 2026-01-14, 10:00 in New York


@pytest.fixture
async def market() -> MovableMarket:
    return MovableMarket({AAPL: ("199.99", "200.01", "200.00")})


@pytest.fixture
async def server(
    tmp_path: Path, clock: FakeClock, market: MovableMarket
) -> AsyncIterator[RunningServer]:
    app = build_app(make_config(tmp_path), source=market.for_gateway, clock=clock)
    running = await start_server(app)
    await asyncio.wait_for(market.ready.wait(), 10)
    yield running
    await running.stop()


async def nav(http: aiohttp.ClientSession, base: str) -> float:
    ledger = await call(http, "GET", f"{base}/portfolio/{ACCT}/ledger")
    return float(ledger["BASE"]["netliquidationvalue"])


async def three_days(
    server: RunningServer, http: aiohttp.ClientSession, clock: FakeClock, market: MovableMarket
) -> list[float]:
    """Buy 100 AAPL, then close Wednesday, Thursday and Friday at three prices; the closing net
    liquidation of each day as the ledger showed it."""
    base = server.base_url + "/v1/api"
    await place_confirmed(
        http, base, {"conid": AAPL, "side": "BUY", "orderType": "MKT", "quantity": 100}
    )
    closes = []
    for day, last in enumerate(["201.00", "199.50", "203.25"]):
        clock.set(SERVER_EPOCH_NS + day * NS_PER_DAY)
        market.move(last, clock.now_ns())
        server.gateway.days.close_day(clock.now_ns())
        closes.append(await nav(http, base))
    return closes


def assert_series_shape(block: dict[str, Any], freq: str) -> None:
    assert set(block) == {"data", "freq", "dates"} and block["freq"] == freq
    [data] = block["data"]
    assert {"id", "idType", "baseCurrency", "start", "end"} <= set(data)


async def test_performance_chains_the_days_each_close_kept(
    server: RunningServer, http: aiohttp.ClientSession, clock: FakeClock, market: MovableMarket
) -> None:
    closes = await three_days(server, http, clock, market)
    for prefix in PREFIXES:
        body = await call(
            http, "POST", server.base_url + prefix + "/pa/performance",
            json={"acctIds": [ACCT], "period": "7D"},
        )  # fmt: skip
        assert {"currencyType", "rc", "nd", "id", "included", "pm", "nav", "cps", "tpps"} <= set(
            body
        )
        assert body["pm"] == "TWR" and body["included"] == [ACCT] and body["currencyType"] == "base"
        for key, freq in (("nav", "D"), ("cps", "D"), ("tpps", "M")):
            assert_series_shape(body[key], freq)
        # Closed on request at 10:00, Friday is still in progress (its 16:00 close is ahead).
        assert body["nav"]["dates"] == ["20260114", "20260115", "20260116"]
        [navs] = body["nav"]["data"]
        assert navs["navs"] == closes
        assert navs["startNAV"] == {"date": "20260113", "val": 1_000_000.0}
        [cps] = body["cps"]["data"]
        expected = [close / 1_000_000 - 1 for close in closes]
        assert cps["returns"] == pytest.approx(expected, abs=1e-12)
        assert cps["id"] == ACCT and cps["idType"] == "acctid" and cps["baseCurrency"] == "USD"
        assert body["tpps"]["dates"] == ["202601"]
        assert body["tpps"]["data"][0]["returns"] == pytest.approx([expected[-1]], abs=1e-12)
    one_day = await call(
        http, "POST", server.base_url + "/v1/api/pa/performance",
        json={"acctIds": [ACCT], "period": "1d"},
    )  # fmt: skip
    assert one_day["nav"]["dates"] == ["20260116"]
    # Without a period IBKR analyses 12M; 3M and the older 1Y cover these days alike.
    for period in (None, "3M", "1Y"):
        named = {"period": period} if period else {}
        body = await call(
            http, "POST", server.base_url + "/v1/api/pa/performance",
            json={"acctIds": [ACCT], **named},
        )  # fmt: skip
        assert body["nav"]["data"][0]["navs"] == closes
    assert one_day["cps"]["data"][0]["returns"] == pytest.approx([closes[2] / closes[1] - 1])


async def test_all_periods_summary_and_transactions(
    server: RunningServer, http: aiohttp.ClientSession, clock: FakeClock, market: MovableMarket
) -> None:
    closes = await three_days(server, http, clock, market)
    base = server.base_url + "/v1/api"
    # Sell 40 on Monday: the transactions show both executions and the P&L the sale realized.
    clock.set(SERVER_EPOCH_NS + 5 * NS_PER_DAY)
    await place_confirmed(
        http, base, {"conid": AAPL, "side": "SELL", "orderType": "MKT", "quantity": 40}
    )
    periods = await call(http, "POST", f"{base}/pa/allperiods", json={"acctIds": [ACCT]})
    assert periods["included"] == [ACCT] and periods["pm"] == "TWR"
    entry = periods[ACCT]
    assert entry["periods"] == ["1D", "7D", "MTD", "1M", "YTD", "1Y"]
    assert entry["baseCurrency"] == "USD" and entry["start"] == "20260114"
    for period in entry["periods"]:
        assert set(entry[period]) == {"nav", "cps", "freq", "dates", "startNAV", "startNav"}
        assert len(entry[period]["nav"]) == len(entry[period]["cps"]) == len(entry[period]["dates"])
    assert entry["YTD"]["nav"][:3] == closes

    summary = await call(http, "POST", f"{base}/pa/summary", json={"acctIds": [ACCT]})
    now_nav = await nav(http, base)
    assert summary["total"]["startVal"] == "1000000.00"
    assert Decimal(summary["total"]["endVal"]) == Decimal(str(now_nav)).quantize(Decimal("0.01"))
    assert Decimal(summary["total"]["chg"]) == Decimal(summary["total"]["endVal"]) - 1_000_000
    [series] = summary["balanceByDate"]["series"]
    assert [point[1] for point in series["date"]][:3] == closes

    body = await call(
        http, "POST", f"{base}/pa/transactions",
        json={"acctIds": [ACCT], "conids": [AAPL], "currency": "USD", "days": 30},
    )  # fmt: skip
    assert body["id"] == "getTransactions" and body["currency"] == "USD"
    bought, sold = body["transactions"]
    assert (bought["type"], bought["qty"], bought["pr"]) == ("Buy", 100, 200.01)
    assert (sold["type"], sold["qty"]) == ("Sell", -40)
    assert sold["amt"] == pytest.approx(40 * sold["pr"])
    assert bought["date"] == "Wed Jan 14 00:00:00 EST 2026" and bought["desc"]
    [realized] = body["rpnl"]["data"]
    assert realized["side"] == "G" and realized["conid"] == str(AAPL)  # a gain
    # 40 of 100 shares bought at 200.01 plus a 1.00 commission, sold at the bid, less the fee.
    cost = Decimal("200.01") * 40 + Decimal("0.4")
    fee = Decimal("1.00")
    assert Decimal(realized["amt"]) == Decimal(str(sold["pr"])) * 40 - cost - fee
    assert body["rpnl"]["amt"] == realized["amt"]
    # Nothing outside the window: a one-day look-back from Monday misses Wednesday's purchase.
    recent = await call(
        http, "POST", f"{base}/pa/transactions",
        json={"acctIds": [ACCT], "conids": [str(AAPL)], "days": 1},
    )  # fmt: skip
    assert [t["type"] for t in recent["transactions"]] == ["Sell"]


@pytest.mark.parametrize(
    ("path", "body", "status", "needle"),
    [
        ("/pa/performance", {"period": "7D"}, 400, "acctIds"),
        ("/pa/performance", {"acctIds": [ACCT], "period": "2W"}, 400, "period must be one of"),
        ("/pa/performance", {"acctIds": ["U0000000"], "period": "7D"}, 404, "U0000000"),
        ("/pa/allperiods", {"acctIds": []}, 400, "acctIds"),
        ("/pa/summary", {"acctIds": [7]}, 400, "acctIds"),
        ("/pa/transactions", {"acctIds": [ACCT]}, 400, "conids"),
        ("/pa/transactions", {"acctIds": [ACCT], "conids": ["x"]}, 400, "conids"),
        ("/pa/transactions", {"acctIds": [ACCT], "conids": [1]}, 404, "Invalid conid 1"),
        ("/pa/transactions", {"acctIds": [ACCT], "conids": [AAPL], "days": 0}, 400, "days"),
        (
            "/pa/transactions",
            {"acctIds": [ACCT], "conids": [AAPL], "currency": {}},
            400,
            "currency",
        ),
        (
            "/pa/transactions",
            {"acctIds": [ACCT], "conids": [AAPL], "currency": ""},
            400,
            "currency",
        ),
        (
            "/pa/transactions",
            {"acctIds": [ACCT], "conids": [AAPL], "currency": "$$"},
            400,
            "currency",
        ),
    ],
)
async def test_bad_requests_get_a_specific_json_error(
    server: RunningServer, http: aiohttp.ClientSession, path: str, body: Any, status: int,
    needle: str,
) -> None:  # fmt: skip
    answer = await call(http, "POST", server.base_url + "/v1/api" + path, json=body, status=status)
    assert needle in answer["error"]
