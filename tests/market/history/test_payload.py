"""History payloads against the reference samples (§8.4 REST, §5.2 WS) and ibind's parser."""

from __future__ import annotations

import datetime
from decimal import Decimal

import orjson
import pytest
from ibind.base.rest_client import Result
from ibind.client.ibkr_utils import cleanup_market_history_responses, extract_conid
from tests.instruments import EURUSD, stock

from tickgate.clock import NS_PER_MINUTE
from tickgate.errors import RequestError
from tickgate.market.bars import Bar
from tickgate.market.history.payload import history_payload, smh_payload

AAPL = stock(price="173.50")
# The reference samples, keys in their order.
REST_SAMPLE = (
    '{"serverId":"20477","symbol":"AAPL","text":"APPLE INC","priceFactor":100,'
    '"startTime":"20230818-08:00:00","high":"17510/472117.45/0","low":"17170/472117.45/0",'
    '"timePeriod":"1d","barLength":86400,"mdAvailability":"S","mktDataDelay":0,'
    '"outsideRth":true,"tradingDayDuration":1440,"volumeFactor":1,"priceDisplayRule":1,'
    '"priceDisplayValue":"2","chartPanStartTime":"20230821-13:30:00","direction":-1,'
    '"negativeCapable":false,"messageVersion":2,"data":[{"o":173.4,"c":174.7,"h":175.1,'
    '"l":171.7,"v":472117.45,"t":1692345600000}],"points":0,"travelTime":48}'
)
WS_SAMPLE = (
    '{"serverId":"341115","symbol":"AAPL","text":"APPLE INC","priceFactor":100,'
    '"startTime":"20210317-18:00:00","high":"12586/14469/65","low":"12283/34103/0",'
    '"timePeriod":"7200s","barLength":300,"mdAvailability":"S","mktDataDelay":0,'
    '"outsideRth":false,"volumeFactor":1,"priceDisplayRule":1,"priceDisplayValue":"2",'
    '"negativeCapable":false,"messageVersion":2,"data":[{"o":125.52,"c":125.64,"h":125.86,'
    '"l":125.34,"v":5301.0,"t":1615996800000}],"points":23,"topic":"smh+265598"}'
)
START = 1_692_345_600_000_000_000  # 2023-08-18 08:00:00 UTC
D = Decimal
BARS = [
    Bar(START, D("173.40"), D("174.00"), D("171.70"), D("173.90"), 1000),
    Bar(START + 5 * NS_PER_MINUTE, D("173.90"), D("175.10"), D("173.50"), D("174.70"), 2500),
    Bar(START + 10 * NS_PER_MINUTE, D("174.70"), D("175.10"), D("174.00"), D("174.20"), 300),
]


def rest() -> dict[str, object]:
    return history_payload(
        AAPL,
        BARS,
        period="1d",
        bar="5min",
        outside_rth=True,
        server_id="20477",
        end_ns=1_692_624_600_000_000_000,
    )


def test_rest_payload_has_the_reference_keys_in_order() -> None:
    payload = rest()
    assert list(payload) == list(orjson.loads(REST_SAMPLE))
    assert list(payload["data"][0]) == ["o", "c", "h", "l", "v", "t"]  # type: ignore[index]


def test_rest_payload_values() -> None:
    payload = rest()
    assert payload["startTime"] == "20230818-08:00:00"
    assert payload["chartPanStartTime"] == "20230821-13:30:00"
    # The first bar reaching the high is the second one, 5 minutes after the start.
    assert payload["high"] == "17510/2500/5"
    assert payload["low"] == "17170/1000/0"
    assert payload["timePeriod"] == "1d"
    assert payload["barLength"] == 300
    assert payload["tradingDayDuration"] == 1440
    assert payload["points"] == 2
    assert payload["data"] == [
        {"o": 173.4, "c": 173.9, "h": 174.0, "l": 171.7, "v": 1000.0, "t": 1692345600000},
        {"o": 173.9, "c": 174.7, "h": 175.1, "l": 173.5, "v": 2500.0, "t": 1692345900000},
        {"o": 174.7, "c": 174.2, "h": 175.1, "l": 174.0, "v": 300.0, "t": 1692346200000},
    ]
    regular = history_payload(AAPL, BARS, period="2h", bar="5min", outside_rth=False, server_id="1")
    assert regular["tradingDayDuration"] == 390
    assert regular["timePeriod"] == "7200s"
    assert regular["chartPanStartTime"] == "20230818-08:10:00"


def test_fx_prices_scale_by_their_decimals() -> None:
    eur = EURUSD
    bars = [Bar(START, D("1.08500"), D("1.08555"), D("1.08470"), D("1.08520"), 3)]
    payload = history_payload(eur, bars, period="1h", bar="1min", outside_rth=False, server_id="1")
    assert payload["priceFactor"] == 100_000
    assert payload["priceDisplayValue"] == "5"
    assert payload["high"] == "108555/3/0"
    assert payload["tradingDayDuration"] == 1440


def test_ws_frame_has_the_reference_keys_and_topic() -> None:
    frame = smh_payload(AAPL, BARS, period="2h", bar="5min", outside_rth=False, server_id="341115")
    assert list(frame) == list(orjson.loads(WS_SAMPLE))
    assert frame["topic"] == "smh+265598"
    assert frame["serverId"] == "341115"
    assert extract_conid(frame) == "265598"


def test_no_bars_is_the_no_data_error() -> None:
    with pytest.raises(RequestError) as raised:
        history_payload(AAPL, [], period="1d", bar="5min", outside_rth=True, server_id="1")
    assert raised.value.message == "No data."
    with pytest.raises(RequestError, match=r"^No data\.$"):
        smh_payload(AAPL, [], period="1d", bar="5min", outside_rth=True, server_id="1")


def test_ibind_reads_the_rest_payload() -> None:
    body = orjson.loads(orjson.dumps(rest()))
    records = cleanup_market_history_responses({"AAPL": Result(data=body)})["AAPL"]
    assert records[1] == {
        "open": 173.9,
        "high": 175.1,
        "low": 173.5,
        "close": 174.7,
        "volume": 2500.0,
        "date": datetime.datetime(2023, 8, 18, 8, 5, tzinfo=datetime.UTC),
    }
