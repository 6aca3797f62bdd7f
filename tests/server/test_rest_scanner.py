"""The market scanner over a real socket: params, rankings on a market the test sets, errors."""

from __future__ import annotations

import aiohttp
import pytest
from tests.conftest import StartServer, call

from tickgate.clock import FakeClock
from tickgate.model.instruments import SecType
from tickgate.model.ticks import Tick
from tickgate.protocol import fields as F
from tickgate.server.app import RunningServer

CONTRACT_KEYS = {
    "server_id", "symbol", "conidex", "con_id", "available_chart_periods", "company_name",
    "scan_data", "contract_description_1", "listing_exchange", "sec_type",
}  # fmt: skip


async def frozen(start: StartServer) -> RunningServer:
    """A gateway whose simulated market does not move by itself (the clock stands still), on
    the core catalogue: every US stock of it fits in one scan's rows."""
    return await start(clock=FakeClock(), store="memory", universe=False)


def us_stocks(server: RunningServer) -> list[int]:
    return [i.conid for i in server.gateway.catalogue if i.sec_type is SecType.STK and i.is_us]


def set_market(server: RunningServer, values: dict[int, dict[int, str]]) -> None:
    """Publish the given wire values, as a source would."""
    now = server.gateway.clock.now_ns()
    for conid, fields in values.items():
        server.gateway.bus.publish(Tick(conid, fields, now))


async def run(
    http: aiohttp.ClientSession, server: RunningServer, scan: str, *, status: int = 200,
    prefix: str = "/v1/api", **extra: object,
) -> dict[str, object]:  # fmt: skip
    body = {"instrument": "STK", "type": scan, "location": "STK.US.MAJOR", **extra}
    result = await call(
        http, "POST", f"{server.base_url}{prefix}/iserver/scanner/run", json=body, status=status
    )
    assert isinstance(result, dict)
    return result


def conids(result: dict[str, object]) -> list[int]:
    contracts = result["contracts"]
    assert isinstance(contracts, list)
    return [int(c["con_id"]) for c in contracts]


async def test_params_list_what_the_scanner_evaluates(
    start: StartServer, http: aiohttp.ClientSession
) -> None:
    server = await frozen(start)
    for prefix in ("/v1/api", "/v1/portal"):
        body = await call(http, "GET", f"{server.base_url}{prefix}/iserver/scanner/params")
        assert set(body) == {"scan_type_list", "instrument_list", "filter_list", "location_tree"}
        codes = {s["code"] for s in body["scan_type_list"]}
        assert {"TOP_PERC_GAIN", "TOP_PERC_LOSE", "MOST_ACTIVE", "HOT_BY_VOLUME"} <= codes
        assert {"SCAN_price_DESC", "SCAN_price_ASC", "HALTED"} <= codes
        assert all(
            set(s) == {"display_name", "code", "instruments"} for s in body["scan_type_list"]
        )
        stk = next(i for i in body["instrument_list"] if i["type"] == "STK")
        assert {"priceAbove", "priceBelow", "volumeAbove"} <= set(stk["filters"])
        assert "marketCapAbove1e6" not in stk["filters"]  # the catalogue has no market caps
        for entry in body["filter_list"]:
            assert set(entry) == {"group", "display_name", "code", "type"}
        tree = next(t for t in body["location_tree"] if t["type"] == "STK")
        (major,) = tree["locations"]
        assert major["type"] == "STK.US.MAJOR"
        assert {"STK.NASDAQ", "STK.NYSE", "STK.ARCA"} <= {c["type"] for c in major["locations"]}


async def test_rankings_follow_the_market(start: StartServer, http: aiohttp.ClientSession) -> None:
    server = await frozen(start)
    stocks = us_stocks(server)
    assert len(stocks) >= 10
    # Distinct values per stock, in an order unrelated to the catalogue's.
    change = {
        c: round((i * 7 % len(stocks) - len(stocks) / 2) * 0.37, 2) for i, c in enumerate(stocks)
    }
    volume = {c: 1_000 + (i * 11 % len(stocks)) * 5_000 for i, c in enumerate(stocks)}
    price = {c: 10 + (i * 13 % len(stocks)) * 7.5 for i, c in enumerate(stocks)}
    set_market(
        server,
        {
            c: {
                F.CHANGE_PCT: F.format_change_pct(change[c]),
                F.VOLUME_EXACT: str(volume[c]),
                F.LAST: F.format_price(price[c], 2),
            }
            for c in stocks
        },
    )
    gainers = await run(http, server, "TOP_PERC_GAIN")
    expected = sorted((c for c in stocks if change[c] > 0), key=lambda c: -change[c])
    assert conids(gainers) == expected
    assert gainers["scan_data_column_name"] == "Chg%"
    first, *rest = gainers["contracts"]  # type: ignore[misc]
    assert set(first) == CONTRACT_KEYS | {"column_name"} and first["column_name"] == "Chg%"
    assert all(set(c) == CONTRACT_KEYS for c in rest)
    assert first["scan_data"] == f"{change[expected[0]]:+.2f}%"
    assert [c["server_id"] for c in gainers["contracts"]] == [str(i) for i in range(len(expected))]  # type: ignore[union-attr]

    losers = await run(http, server, "TOP_PERC_LOSE")
    assert conids(losers) == sorted((c for c in stocks if change[c] < 0), key=lambda c: change[c])

    active = await run(
        http, server, "MOST_ACTIVE", filter=[{"code": "volumeAbove", "value": 20_000}]
    )
    assert conids(active) == sorted(
        (c for c in stocks if volume[c] > 20_000), key=lambda c: -volume[c]
    )

    high = await run(
        http, server, "SCAN_price_DESC",
        filter=[{"code": "priceAbove", "value": 40}, {"code": "priceBelow", "value": "150"}],
    )  # fmt: skip
    assert conids(high) == sorted(
        (c for c in stocks if 40 < price[c] < 150), key=lambda c: -price[c]
    )
    low = await run(http, server, "SCAN_price_ASC", prefix="/v1/portal")
    assert conids(low) == sorted(stocks, key=lambda c: price[c])


async def test_hot_by_volume_ranks_volume_against_each_average(
    start: StartServer, http: aiohttp.ClientSession
) -> None:
    server = await frozen(start)
    stocks = us_stocks(server)[:6]
    history = server.gateway.history
    multiple = dict(zip(stocks, (0.5, 3.0, 1.2, 0.1, 2.2, 0.8), strict=True))
    set_market(
        server,
        {
            c: {F.VOLUME_EXACT: str(round(history.average_daily_volume(c) * multiple[c]))}
            for c in stocks
        },
    )
    hot = await run(http, server, "HOT_BY_VOLUME")
    ranked = [c for c in conids(hot) if c in multiple]
    assert ranked == sorted(stocks, key=lambda c: -multiple[c])


async def test_halted_scan_and_etf_type(start: StartServer, http: aiohttp.ClientSession) -> None:
    server = await frozen(start)
    assert conids(await run(http, server, "HALTED")) == []
    await call(http, "POST", server.base_url + "/tickgate/market/8314/halt")
    halted = await run(http, server, "HALTED")
    assert conids(halted) == [8314]
    etfs = await run(
        http, server, "SCAN_price_DESC", instrument="ETF.EQ.US", location="ETF.EQ.US.MAJOR"
    )
    etf_conids = {i.conid for i in server.gateway.catalogue if i.is_etf}
    assert conids(etfs) and set(conids(etfs)) <= etf_conids
    nasdaq = await run(http, server, "SCAN_price_DESC", location="STK.NASDAQ")
    listed = {i.conid: i.listing_exchange for i in server.gateway.catalogue}
    assert conids(nasdaq) and {listed[c] for c in conids(nasdaq)} == {"NASDAQ"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"type": "NOPE"}, "unknown scanner type 'NOPE'"),
        ({"instrument": "BOND"}, "unknown scanner instrument 'BOND'"),
        ({"location": "STK.EU"}, "unknown scanner location 'STK.EU'"),
        ({"filter": [{"code": "marketCapAbove1e6", "value": 1}]}, "unknown scanner filter"),
        ({"filter": [{"code": "priceAbove", "value": "cheap"}]}, "must be a number"),
        ({"filter": [{"code": "priceAbove"}]}, "needs a code and a value"),
        ({"filter": {"code": "priceAbove"}}, "must be a list"),
        ({"type": None}, "missing required field 'type'"),
    ],
)
async def test_bad_scans_are_refused_by_name(
    server: RunningServer, http: aiohttp.ClientSession, body: dict[str, object], message: str
) -> None:
    base = {"instrument": "STK", "type": "MOST_ACTIVE", "location": "STK.US.MAJOR"}
    request = {k: v for k, v in {**base, **body}.items() if v is not None}
    url = f"{server.base_url}/v1/api/iserver/scanner/run"
    answer = await call(http, "POST", url, json=request, status=400)
    assert message in answer["error"]


@pytest.mark.parametrize("route", ["/hmds/scanner", "/hmds/scanner/run"])
async def test_hmds_scanner_answers_contract_ids(
    start: StartServer, http: aiohttp.ClientSession, route: str
) -> None:
    server = await frozen(start)
    stocks = us_stocks(server)
    set_market(server, {c: {F.VOLUME_EXACT: str(100 + i)} for i, c in enumerate(stocks)})
    body = {"instrument": "STK", "locations": "STK.US.MAJOR", "scanCode": "MOST_ACTIVE",
            "secType": "STK", "filters": [], "maxItems": 3}  # fmt: skip
    url = f"{server.base_url}/v1/api{route}"
    answer = await call(http, "POST", url, json=body)
    assert answer["total"] == answer["size"] == 3 and answer["offset"] == 0
    rows = answer["Contracts"]["Contract"]
    assert [r["contractID"] for r in rows] == list(reversed(stocks))[:3]
    assert all(r["inScanTime"] == answer["scanTime"] for r in rows)
    too_many = {**body, "maxItems": 251}
    await call(http, "POST", url, json=too_many, status=400)
    # ibind sends `location` where IBKR documents `locations`
    singular = {k: v for k, v in body.items() if k != "locations"} | {"location": "STK.US.MAJOR"}
    assert (await call(http, "POST", url, json=singular))["total"] == 3
