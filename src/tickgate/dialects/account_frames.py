"""Account events to frames, forward only: a trading event and the catalogue in, bytes out.

The account streams run one way: the trading engine publishes an event, `AccountStreams`
hands it to each topic's renderer here, the renderer builds the frame from the event alone
(an order event carries the order's snapshot, a fill its execution, a P&L event its figures)
plus the instrument from the catalogue, and streaming pushes the bytes. No renderer calls back
into the trading engine: a P&L event carries a frozen snapshot of every figure the `spl`,
`ssd` and `sld` views show. Only the first frames a subscribe answers with (snapshots of the
day's orders, fills and figures) ask the engine, because they answer a request.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from tickgate.clock import NS_PER_S
from tickgate.errors import NotFoundError
from tickgate.market.catalogue.catalogue import Catalogue
from tickgate.model.instruments import Instrument, invalid_conid
from tickgate.model.orders import Fill, Order
from tickgate.protocol import portal
from tickgate.protocol.api import frames
from tickgate.protocol.rest import accounts as account_shapes
from tickgate.protocol.rest import orders as order_shapes
from tickgate.streaming.accounts import Renderer
from tickgate.streaming.backlog import chunked_frames
from tickgate.trading.events import (
    OrderAccepted,
    OrderFilled,
    OrderUpdated,
    PnlChanged,
    SessionClosed,
    TradingEvent,
)
from tickgate.trading.fyi import Notification


def instrument(catalogue: Catalogue, conid: int) -> Instrument:
    """The instrument an order or fill names. Raises NotFoundError when the catalogue lacks it."""
    found = catalogue.find(conid)
    if found is None:
        raise NotFoundError(f"{invalid_conid(conid)}: no such contract")
    return found


def order_rows(catalogue: Catalogue, orders: Iterable[Order]) -> list[dict[str, Any]]:
    """Wire rows of `orders`, as `GET /iserver/account/orders` shows them."""
    return [order_shapes.order_row(o, instrument(catalogue, o.conid)) for o in orders]


def trade_rows(catalogue: Catalogue, fills: Iterable[Fill]) -> list[dict[str, Any]]:
    """Wire rows of `fills`, as `GET /iserver/account/trades` shows them."""
    return [order_shapes.trade_row(f, instrument(catalogue, f.conid)) for f in fills]


# --- /v1/portal/ws: realtime-account-data+ACCT ---------------------------------------------------
def portal_day_frames(
    catalogue: Catalogue, account: str, orders: Sequence[Order], *, max_bytes: int
) -> Iterator[bytes]:
    """`orders` (the day's, oldest first) in `{"orders":[...]}` frames of at most `max_bytes`,
    rendered lazily; one empty frame on a day without orders, as the first frame always comes."""
    if not orders:
        return iter([portal.encode_account_orders(account, [])])
    return chunked_frames(
        orders,
        lambda batch: portal.encode_account_orders(account, order_rows(catalogue, batch)),
        max_bytes=max_bytes,
    )


def portal_pnl(account: str, event: PnlChanged) -> bytes:
    """`{"pnl":{"ACCT.Core":{rowType,dpl,nl,upl,el,uel,mv}},"topic":"realtime-account-data+ACCT"}`."""
    return portal.encode_topic_payload(
        f"{portal.ACCOUNT}+{account}", {"pnl": {f"{account}.Core": account_shapes.pnl_row(event)}}
    )


def portal_renderer(catalogue: Catalogue, account: str) -> Renderer:
    """The account's order changes and P&L for `realtime-account-data+ACCT`."""

    def render(event: TradingEvent) -> bytes | None:
        if isinstance(event, PnlChanged):
            return portal_pnl(account, event) if event.account == account else None
        if isinstance(event, OrderAccepted | OrderUpdated | OrderFilled) and (
            event.order.account == account
        ):
            return portal.encode_account_orders(account, order_rows(catalogue, [event.order]))
        return None

    return render


# --- /v1/api/ws: sor, str, spl, ntf, blt ---------------------------------------------------------
def api_orders_renderer(catalogue: Catalogue, filters: tuple[str, ...]) -> Renderer:
    """`sor` frames of the order events whose status is among `filters` (any, when empty)."""

    def render(event: TradingEvent) -> bytes | None:
        if not isinstance(event, OrderAccepted | OrderUpdated | OrderFilled):
            return None
        order = event.order
        if filters and order.status.value.lower() not in filters:
            return None
        return frames.encode_orders(order_rows(catalogue, [order]))

    return render


def api_trades_renderer(catalogue: Catalogue) -> Renderer:
    """A `str` frame for each fill."""

    def render(event: TradingEvent) -> bytes | None:
        if not isinstance(event, OrderFilled):
            return None
        return frames.encode_trades(trade_rows(catalogue, [event.fill]))

    return render


def api_pnl(event: TradingEvent) -> bytes | None:
    """An `spl` frame for each P&L change."""
    if not isinstance(event, PnlChanged):
        return None
    return frames.encode_pnl({f"{event.account}.Core": account_shapes.pnl_row(event)})


#: The topic of the unsolicited `ntf`/`blt` frames every authenticated api socket gets.
NOTICES_TOPIC = ("notices",)


def fill_text(catalogue: Catalogue, fill: Fill) -> str:
    """A fill in a few words: `Bought 5 AAPL @ 255.27`."""
    verb = "Bought" if fill.side.value == "BUY" else "Sold"
    symbol = instrument(catalogue, fill.conid).symbol
    return f"{verb} {fill.quantity.normalize():f} {symbol} @ {fill.price.normalize():f}"


def alert_notice(notification: Notification) -> bytes:
    """The `ntf` frame of an FYI notification pushed as it is posted (an alert firing): its
    FYI id, title and text, and the alert's id."""
    notice = {
        "id": notification.notification_id,
        "title": notification.title,
        "text": notification.body,
        "url": "",
        "alertId": notification.alert_id,
    }
    return frames.encode_notifications([notice])


def api_notices_renderer(catalogue: Catalogue) -> Renderer:
    """The unsolicited frames: an `ntf` notice per fill, a `blt` bulletin at the session close."""

    def render(event: TradingEvent) -> bytes | None:
        if isinstance(event, SessionClosed):
            return frames.encode_bulletin(
                f"session-close-{event.ts_ns // NS_PER_S}",
                "The simulated trading session closed: DAY orders expired, MOC/LOC orders filled.",
            )
        if not isinstance(event, OrderFilled):
            return None
        fill = event.fill
        notice = {
            "id": f"fill-{fill.execution_id}",
            "title": "Order filled",
            "text": fill_text(catalogue, fill),
            "url": "",
        }
        return frames.encode_notifications([notice])

    return render
