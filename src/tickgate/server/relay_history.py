"""`smh` history of the instruments a relay learnt from its upstream: the upstream's bars.

The relay records no past of its own for an instrument it learnt (`relay_lookups`), so its
history service would invent synthetic bars for it. REST history of such an instrument is
already the upstream's (`relay_lookups.history`); this module does the same for the api
dialect's `smh`: before the session reads an `smh+CONID` of a learnt conid (the WebSocket's
`BEFORE_MESSAGE` hook), the same window is asked of the upstream's
`/iserver/marketdata/history` through the relay's cached lookups, and the history service
lends those bars to the session's request (`HistoryService.lend_from`). The frame is then
built as for any instrument; an upstream refusal ("No data.", a 429 without a cached answer)
becomes the `smh` error frame, in the upstream's words.
"""

from __future__ import annotations

import functools
import logging
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from aiohttp import web

from tickgate.clock import NS_PER_MS
from tickgate.dialects.api import DEFAULT_HISTORY_PERIOD
from tickgate.errors import ProtocolError, RequestError
from tickgate.market.bars import Bar
from tickgate.market.history.query import BarSize, Period, default_bar, parse_bar, parse_period
from tickgate.protocol.api import grammar as C
from tickgate.server.api_client import Answer
from tickgate.server.gateway import Gateway
from tickgate.server.relay_lookups import (
    HISTORY_TTL_S,
    RELAY_LOOKUPS,
    Lookup,
    UpstreamLookups,
    UpstreamUnavailable,
)
from tickgate.server.ws import BEFORE_MESSAGE

log = logging.getLogger("tickgate.relay")

#: Upstream windows held for the requests about to read them (the newest are kept).
KEPT_WINDOWS = 256
_SMH = re.compile(r"smh\+(\d{1,10})")
#: One window: conid, period, bar, outsideRth, source (normalised as the service reads them).
Window = tuple[int, str, str, bool, str]


class UpstreamBars:
    """The upstream's bars of learnt instruments, fetched ahead of each `smh` and lent to
    the history service. Lives on the event loop; `lend` may be called from any thread."""

    def __init__(self, lookups: UpstreamLookups) -> None:
        self._lookups = lookups
        self._windows: OrderedDict[Window, list[Bar] | str] = OrderedDict()

    def before_message(self, text: str) -> Awaitable[None] | None:
        """For an `smh` of a conid the relay learnt or lacks: the upstream's window, fetched
        (a conid the catalogue lacks is learnt first). None for every other message."""
        match = _SMH.match(text)
        if match is None:
            return None
        conid = int(match.group(1))
        if conid not in self._lookups.learnt and self._lookups.knows(conid):
            return None  # the relay's own instrument: its own history answers
        return self._fetch(text, conid)

    async def _fetch(self, text: str, conid: int) -> None:
        try:
            command = C.parse(text)
            if not isinstance(command, C.SubscribeHistory):
                return
            await self._lookups.learn([conid])
            if conid not in self._lookups.learnt:
                return
            window = _window(command)
        except (ProtocolError, RequestError, UpstreamUnavailable) as exc:
            # The session reads the same message next and answers it in its own words.
            log.debug("smh of %d not asked upstream: %s", conid, exc)
            return
        self._keep(window, await self._ask(window))

    async def _ask(self, window: Window) -> list[Bar] | str:
        conid, period, bar, outside_rth, source = window
        query = (("bar", bar), ("conid", str(conid)), ("outsideRth", str(outside_rth).lower()),
                 ("period", period), ("source", source))  # fmt: skip
        lookup = Lookup("/iserver/marketdata/history", query)
        try:
            answer = await self._lookups.ask(lookup, ttl_s=HISTORY_TTL_S)
        except UpstreamUnavailable as exc:
            return exc.message
        return _bars(answer)

    def _keep(self, window: Window, outcome: list[Bar] | str) -> None:
        self._windows[window] = outcome
        self._windows.move_to_end(window)
        while len(self._windows) > KEPT_WINDOWS:
            self._windows.popitem(last=False)

    def lend(
        self,
        conid: int,
        period: Period,
        bar: BarSize,
        start_time: str | None,
        outside_rth: bool,
        source: str,
    ) -> Callable[[], list[Bar]] | None:
        """The history service's `Lender`: the upstream's bars fetched for this window, or
        None (the service's own bars) for any window not fetched. When the upstream refused
        the window, the computation raises RequestError in the upstream's words."""
        if start_time is not None or conid not in self._lookups.learnt:
            return None
        outcome = self._windows.get((conid, period.text, bar.text, outside_rth, source))
        if outcome is None:
            return None
        return functools.partial(_lent, outcome)


def _lent(outcome: list[Bar] | str) -> list[Bar]:
    if isinstance(outcome, str):
        raise RequestError(outcome)
    return outcome


def _window(command: C.SubscribeHistory) -> Window:
    """The window an `smh` asks for, with the api dialect's defaults. Raises RequestError for
    a period or bar that does not parse."""
    period = parse_period(command.period or DEFAULT_HISTORY_PERIOD)
    bar = parse_bar(command.bar) if command.bar else default_bar(period)
    source = (command.source or "trades").lower()
    return command.conid, period.text, bar.text, command.outside_rth, source


def _bars(answer: Answer) -> list[Bar] | str:
    """The bars of an upstream history answer, or its error message."""
    body: Any = answer.body
    points = body.get("data") if answer.status == 200 and isinstance(body, dict) else None
    if not isinstance(points, list):
        return str(answer.error) if answer.status != 200 else "No data."
    try:
        return [_bar(point) for point in points]
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        return f"the relay's upstream sent history it could not read: {exc}"


def _bar(point: dict[str, Any]) -> Bar:
    # repr: the decimal the upstream wrote (its JSON number), not the double's expansion.
    def price(key: str) -> Decimal:
        return Decimal(repr(float(point[key])))

    return Bar(
        int(point["t"]) * NS_PER_MS,
        price("o"),
        price("h"),
        price("l"),
        price("c"),
        int(point.get("v", 0)),
    )


def install(app: web.Application, gateway: Gateway) -> None:
    """Make a relay's `smh` of learnt instruments the upstream's; after `relay_lookups.install`
    (whose lookups and message hook it extends)."""
    bars = UpstreamBars(app[RELAY_LOOKUPS])
    learn = app[BEFORE_MESSAGE]

    def before_message(text: str) -> Awaitable[None] | None:
        pending = bars.before_message(text)
        return pending if pending is not None else learn(text)

    app[BEFORE_MESSAGE] = before_message
    gateway.history.lend_from(bars.lend)
