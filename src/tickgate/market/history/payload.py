"""The JSON shapes of history answers: REST ``/iserver/marketdata/history`` and WS ``smh``.

Protocol reference §8.4 (REST sample) and §5.2 (WS sample); keys come in the samples' order.
``high``/``low`` are ``price*priceFactor/volume/minutes``: the extreme price in price units of
``1/priceFactor``, the volume of the bar that made it, and its minutes after ``startTime``.
``points`` is the number of bars minus one, as in both samples; ``t`` is epoch milliseconds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from tickgate.clock import NS_PER_MINUTE, NS_PER_MS, NS_PER_S
from tickgate.errors import RequestError
from tickgate.market.bars import Bar
from tickgate.market.calendar import MarketCalendar, calendar_of
from tickgate.market.history.query import BarSize, Period, parse_bar, parse_period
from tickgate.model.instruments import Instrument

__all__ = ["NO_DATA", "history_payload", "smh_payload"]

#: The error text IBKR answers when a window holds no bars (ibind looks for it verbatim).
NO_DATA = "No data."


def history_payload(
    instrument: Instrument,
    bars: list[Bar],
    *,
    period: Period | str,
    bar: BarSize | str,
    outside_rth: bool,
    server_id: str,
    end_ns: int | None = None,
    travel_time_ms: int = 0,
) -> dict[str, Any]:
    """The REST answer for `bars` (chronological) of `instrument`.

    `end_ns` is the end of the requested window, sent as ``chartPanStartTime`` (defaults to
    the last bar's start). Raises RequestError("No data.") when `bars` is empty, so that the
    server answers ``{"error":"No data."}``, and RequestError for a bad `period` or `bar` string.
    """
    head, tail = _common(instrument, bars, period, bar, outside_rth, server_id)
    return {
        **head,
        "tradingDayDuration": _day_minutes(calendar_of(instrument), outside_rth),
        "volumeFactor": 1,
        "priceDisplayRule": 1,
        "priceDisplayValue": str(instrument.price_decimals),
        "chartPanStartTime": _stamp(bars[-1].start_ns if end_ns is None else end_ns),
        "direction": -1,
        **tail,
        "travelTime": travel_time_ms,
    }


class Shape(Protocol):
    """A REST answer builder for history bars (`history_payload` or `hmds_payload`)."""

    def __call__(
        self,
        instrument: Instrument,
        bars: list[Bar],
        *,
        period: Period | str,
        bar: BarSize | str,
        outside_rth: bool,
        server_id: str,
        end_ns: int | None = None,
    ) -> dict[str, Any]: ...


def hmds_payload(
    instrument: Instrument,
    bars: list[Bar],
    *,
    period: Period | str,
    bar: BarSize | str,
    outside_rth: bool,
    server_id: str,
    end_ns: int | None = None,
) -> dict[str, Any]:
    """The beta `/hmds/history` answer: `history_payload`'s, with the window's first and last
    bar times also given as epoch ms (`startTimeVal`, `endTimeVal`) and text (`endTime`).
    Raises as `history_payload` does."""
    payload = history_payload(
        instrument, bars, period=period, bar=bar, outside_rth=outside_rth,
        server_id=server_id, end_ns=end_ns,
    )  # fmt: skip
    payload["startTimeVal"] = bars[0].start_ns // NS_PER_MS
    payload["endTime"] = _stamp(bars[-1].start_ns)
    payload["endTimeVal"] = bars[-1].start_ns // NS_PER_MS
    return payload


def smh_payload(
    instrument: Instrument,
    bars: list[Bar],
    *,
    period: Period | str,
    bar: BarSize | str,
    outside_rth: bool,
    server_id: str,
) -> dict[str, Any]:
    """The one ``smh+CONID`` WebSocket frame for `bars` (chronological), with its ``topic``.

    Raises RequestError("No data.") when `bars` is empty (the reference's "default (empty)
    response" is the server's choice) and RequestError for a bad `period` or `bar` string.
    """
    head, tail = _common(instrument, bars, period, bar, outside_rth, server_id)
    return {
        **head,
        "volumeFactor": 1,
        "priceDisplayRule": 1,
        "priceDisplayValue": str(instrument.price_decimals),
        **tail,
        "topic": f"smh+{instrument.conid}",
    }


def _common(
    instrument: Instrument,
    bars: list[Bar],
    period: Period | str,
    bar: BarSize | str,
    outside_rth: bool,
    server_id: str,
) -> tuple[dict[str, Any], dict[str, Any]]:
    period = parse_period(period) if isinstance(period, str) else period
    size = parse_bar(bar) if isinstance(bar, str) else bar
    if not bars:
        raise RequestError(NO_DATA)
    factor = 10**instrument.price_decimals
    first = bars[0].start_ns
    head = {
        "serverId": server_id,
        "symbol": instrument.symbol,
        "text": instrument.name,
        "priceFactor": factor,
        "startTime": _stamp(first),
        "high": _extreme(max(bars, key=lambda b: b.high), "high", factor, first),
        "low": _extreme(min(bars, key=lambda b: b.low), "low", factor, first),
        "timePeriod": f"{period.seconds}s" if period.intraday else period.text,
        "barLength": size.seconds,
        "mdAvailability": "S",
        "mktDataDelay": 0,
        "outsideRth": outside_rth,
    }
    tail = {
        "negativeCapable": False,
        "messageVersion": 2,
        "data": [_point(b) for b in bars],
        "points": len(bars) - 1,
    }
    return head, tail


def _day_minutes(calendar: MarketCalendar, outside_rth: bool) -> int:
    # IBKR reports a whole day (1440) for extended-hours charts, not the 16 hours traded.
    if outside_rth and calendar.has_extended_hours:
        return 1440
    return calendar.regular_minutes


def _extreme(bar: Bar, side: str, factor: int, first_ns: int) -> str:
    price = bar.high if side == "high" else bar.low
    return f"{int(price * factor)}/{bar.volume}/{(bar.start_ns - first_ns) // NS_PER_MINUTE}"


def _point(bar: Bar) -> dict[str, float | int]:
    return {
        "o": float(bar.open),
        "c": float(bar.close),
        "h": float(bar.high),
        "l": float(bar.low),
        "v": float(bar.volume),
        "t": bar.start_ns // NS_PER_MS,
    }


def _stamp(ns: int) -> str:
    return datetime.fromtimestamp(ns // NS_PER_S, UTC).strftime("%Y%m%d-%H:%M:%S")
