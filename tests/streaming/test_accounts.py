"""Account-event fan-out: reliable, rendered once per topic, P&L at most once a second."""

from __future__ import annotations

import dataclasses
from decimal import Decimal as D

from tickgate.model.accounts import AccountConfig
from tickgate.streaming.accounts import AccountStreams
from tickgate.trading.events import PnlChanged, TradingEvent
from tickgate.trading.portfolio import Portfolio

S = 1_000_000_000


class Box:
    """Stands in for an Outbox: records reliable pushes."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []

    def push(self, payload: bytes) -> None:
        self.frames.append(payload)


def pnl(daily: str) -> PnlChanged:
    value = D(daily)
    figures = PnlChanged.of(Portfolio(AccountConfig("DU1")))
    return dataclasses.replace(
        figures,
        daily=value,
        unrealized=value,
        net_liquidation=D(1000) + value,
        excess_liquidity=D(1000),
    )


def render(event: TradingEvent) -> bytes | None:
    return f"pnl {event.daily}".encode() if isinstance(event, PnlChanged) else None


def test_pnl_is_rate_limited_latest_wins_and_unchanged_figures_are_not_resent() -> None:
    streams = AccountStreams()
    a, b = Box(), Box()
    streams.subscribe("pl", a, render)  # type: ignore[arg-type]
    streams.subscribe("pl", b, render)  # type: ignore[arg-type]
    streams.on_event(pnl("1"), 0)
    streams.on_event(pnl("2"), S // 2)  # within the second: held
    streams.on_event(pnl("3"), S // 2)
    assert a.frames == [b"pnl 1"]
    streams.flush_due(S)
    assert a.frames == [b"pnl 1", b"pnl 3"] and b.frames == a.frames
    streams.on_event(pnl("3"), 3 * S)  # moved and came back: nothing new to say
    assert a.frames == [b"pnl 1", b"pnl 3"]
    streams.unsubscribe("pl", a)  # type: ignore[arg-type]
    streams.on_event(pnl("4"), 5 * S)
    assert a.frames[-1] == b"pnl 3" and b.frames[-1] == b"pnl 4"
