"""TradingEngine: real engine, in-test catalogue and quotes, fake clock, memory store."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest
from tests.instruments import TRADED_AAPL as AAPL
from tests.instruments import future
from tests.trading.quotes import QuoteBook, grid_quote

from tickgate.clock import FakeClock
from tickgate.errors import NotFoundError, RequestError
from tickgate.market.catalogue.catalogue import Catalogue
from tickgate.model.accounts import AccountConfig
from tickgate.model.orders import OrderType, Side, TimeInForce, TrailingType
from tickgate.server import rest_commands as commands
from tickgate.server.errors import http_answer
from tickgate.trading.commands import ModifyOrder, PlaceOrder
from tickgate.trading.engine import TradingEngine
from tickgate.trading.errors import (
    IllegalTransition,
    OrderNotConfirmed,
    OrderRejected,
    QuestionExpired,
    UnknownQuestion,
)
from tickgate.trading.events import OrderAccepted, OrderFilled, PnlChanged, TradingEvent
from tickgate.trading.order_domain import check_domain
from tickgate.trading.store import MemoryEventStore

D = Decimal
ES = future()
ACCT = "DU1"


CATALOGUE = Catalogue([AAPL, ES])


def _engine(
    store: MemoryEventStore | None = None, cash: str = "100000"
) -> tuple[TradingEngine, QuoteBook, FakeClock, MemoryEventStore]:
    quotes, clock, store = QuoteBook(), FakeClock(), store or MemoryEventStore()
    accounts = [AccountConfig(ACCT, starting_cash=D(cash)), AccountConfig("DU2")]
    engine = TradingEngine(CATALOGUE, quotes, store, clock, accounts=accounts)
    engine.desk.suppress(["o10151"])
    return engine, quotes, clock, store


def _quote(engine: TradingEngine, quotes: QuoteBook, bid: float, ask: float, last: float,
           size: int = 1000, conid: int = AAPL.conid) -> None:  # fmt: skip
    tick = AAPL.min_tick if conid == AAPL.conid else ES.min_tick
    quote = grid_quote(conid, bid, ask, last, size, min_tick=tick)
    engine.on_quote(conid, quotes.show(quote))


def _lmt(side: str, qty: Any, price: Any, **kw: Any) -> dict[str, Any]:
    return {"conid": AAPL.conid, "side": side, "orderType": "LMT", "quantity": qty,
            "price": price, "tif": "DAY", **kw}  # fmt: skip


def test_market_buy_fills_at_ask_and_updates_portfolio() -> None:
    engine, quotes, _, _ = _engine()
    _quote(engine, quotes, 99.99, 100.01, 100.0)
    [ack] = commands.place(engine, ACCT, [{"conid": AAPL.conid, "side": "BUY", "orderType": "MKT",
                                  "quantity": 10}])  # fmt: skip
    assert ack["order_status"] == "Filled"
    [row] = engine.views.positions(ACCT)
    assert row["position"] == 10.0 and row["avgPrice"] == 100.11  # cost includes commission
    assert engine.journal.portfolio_of(ACCT).cash == D(100000) - D("1000.10") - D("1.00")
    [trade] = engine.views.trades()
    assert trade["price"] == "100.01" and trade["side"] == "B" and trade["commission"] == "1.00"


def test_partial_fill_waits_for_more_size() -> None:
    engine, quotes, _, _ = _engine()
    _quote(engine, quotes, 99.99, 100.01, 100.0, size=30)
    [ack] = commands.place(engine, ACCT, [_lmt("BUY", 100, 100.01)])
    order_id = int(ack["order_id"])
    assert engine.views.order_status(order_id)["cum_fill"] == "30"
    _quote(engine, quotes, 99.99, 100.01, 100.0, size=500)
    status = engine.views.order_status(order_id)
    assert status["order_status"] == "Filled" and status["cum_fill"] == "100"


def test_resting_limit_fills_when_touched() -> None:
    engine, quotes, _, _ = _engine()
    _quote(engine, quotes, 99.99, 100.01, 100.0)
    [ack] = commands.place(engine, ACCT, [_lmt("BUY", 5, 99.50)])
    assert ack["order_status"] == "Submitted"
    _quote(engine, quotes, 99.40, 99.60, 99.50)
    assert engine.views.order_status(int(ack["order_id"]))["average_price"] == "99.50"


@pytest.mark.parametrize(
    ("order", "message"),
    [
        (_lmt("BUY", 0, 100), "quantity must be positive"),
        (_lmt("BUY", -5, 100), "quantity must be positive"),
        (_lmt("BUY", "1.5", 100), "Fractional quantity"),
        (_lmt("BUY", 1, "100.005"), "minimum price variation"),
        (
            {"conid": AAPL.conid, "side": "BUY", "orderType": "LMT", "quantity": 1},
            "Limit price is required",
        ),
        ({"conid": 1, "side": "BUY", "orderType": "MKT", "quantity": 1}, "Invalid conid 1"),
        (_lmt("BUY", 3000, 100), "insufficient buying power"),
        (_lmt("HOLD", 1, 100), "Invalid side"),
        ({"conid": AAPL.conid, "side": "BUY", "orderType": "STP", "quantity": 1}, "Stop price"),
        (
            {
                "conid": AAPL.conid,
                "side": "BUY",
                "orderType": "STOP_LIMIT",
                "quantity": 1,
                "price": 100,
            },
            "auxPrice",
        ),
    ],
)
def test_specific_rejections(order: dict[str, Any], message: str) -> None:
    engine, quotes, _, store = _engine()
    _quote(engine, quotes, 99.99, 100.01, 100.0)
    with pytest.raises(OrderRejected, match=message) as info:
        commands.place(engine, ACCT, [order])
    assert http_answer(info.value)[0] == 200 and len(store) == 0


def test_unknown_account() -> None:
    engine, *_ = _engine()
    with pytest.raises(NotFoundError):
        commands.place(engine, "DU404", [_lmt("BUY", 1, 100)])


def test_duplicate_coid_has_reference_text() -> None:
    engine, quotes, _, _ = _engine()
    _quote(engine, quotes, 99.99, 100.01, 100.0)
    commands.place(engine, ACCT, [_lmt("BUY", 1, 99, cOID="my-1")])
    with pytest.raises(OrderRejected) as info:
        commands.place(engine, ACCT, [_lmt("BUY", 1, 99, cOID="my-1")])
    assert info.value.message == (
        "Order couldn't be submitted: Local order ID=my-1 is already registered."
    )


def test_question_reply_flow() -> None:
    engine, quotes, _, _ = _engine()
    _quote(engine, quotes, 99.99, 100.01, 100.0)
    [question] = commands.place(engine, ACCT, [_lmt("BUY", 1, 90)])
    assert question["messageIds"] == ["o163"] and question["isSuppressed"] is False
    assert "price exceeds \nthe Percentage constraint of 3%" in question["message"][0]
    [ack] = engine.desk.reply(question["id"], True)
    assert ack["order_status"] == "Submitted"
    with pytest.raises(UnknownQuestion, match="reply id not found") as info:
        engine.desk.reply(question["id"], True)
    assert http_answer(info.value)[0] == 400


def test_declined_and_stale_replies() -> None:
    engine, quotes, _, store = _engine()
    _quote(engine, quotes, 99.99, 100.01, 100.0)
    [q1] = commands.place(engine, ACCT, [_lmt("BUY", 1, 90)])
    with pytest.raises(OrderNotConfirmed, match="order not confirmed") as declined:
        engine.desk.reply(q1["id"], False)
    assert http_answer(declined.value) == (400, {"error": "order not confirmed", "statusCode": 400})
    [q2] = commands.place(engine, ACCT, [_lmt("BUY", 1, 90)])
    engine.desk.interrupt_replies()
    with pytest.raises(QuestionExpired) as info:
        engine.desk.reply(q2["id"], True)
    assert http_answer(info.value)[0] == 503 and len(store) == 0


def test_suppress_and_reset() -> None:
    engine, quotes, _, _ = _engine()
    _quote(engine, quotes, 99.99, 100.01, 100.0)
    engine.desk.suppress(["o163"])
    assert "order_id" in commands.place(engine, ACCT, [_lmt("BUY", 1, 90)])[0]
    engine.desk.reset_suppressed()
    assert "id" in commands.place(engine, ACCT, [_lmt("BUY", 1, 90)])[0]


def test_cancel_modify_and_filled_refusals() -> None:
    engine, quotes, _, _ = _engine()
    _quote(engine, quotes, 99.99, 100.01, 100.0)
    [ack] = commands.place(engine, ACCT, [_lmt("BUY", 5, 99.50)])
    order_id = int(ack["order_id"])
    [mod] = commands.modify(engine, ACCT, order_id, {"price": 100.01})
    assert mod["order_status"] == "Filled"
    with pytest.raises(IllegalTransition, match="cannot be cancelled: it is Filled"):
        engine.desk.cancel(ACCT, order_id)
    with pytest.raises(IllegalTransition, match="cannot be modified"):
        commands.modify(engine, ACCT, order_id, {"price": 99})
    with pytest.raises(OrderRejected, match="OrderID 5 doesn't exist"):
        engine.desk.cancel(ACCT, 5)


def test_cancel_all_and_events_are_published_after_storage() -> None:
    engine, quotes, _, store = _engine()
    seen: list[tuple[TradingEvent, int]] = []
    engine.journal.add_listener(lambda e: seen.append((e, len(store))))
    _quote(engine, quotes, 99.99, 100.01, 100.0)
    commands.place(engine, ACCT, [_lmt("BUY", 1, 99), _lmt("SELL", 1, 101)])
    engine.desk.cancel(ACCT, -1)
    assert [o["status"] for o in engine.views.orders()["orders"]] == ["Cancelled", "Cancelled"]
    accepted = [n for e, n in seen if isinstance(e, OrderAccepted)]
    assert accepted == [2, 2]  # both stored (one batch) before the first was published
    assert engine.views.orders(["submitted"])["orders"] == []


def test_ioc_cancels_the_rest() -> None:
    engine, quotes, _, _ = _engine()
    _quote(engine, quotes, 99.99, 100.01, 100.0, size=3)
    [ack] = commands.place(engine, ACCT, [_lmt("BUY", 10, 100.01, tif="IOC")])
    status = engine.views.order_status(int(ack["order_id"]))
    assert (status["order_status"], status["cum_fill"]) == ("Cancelled", "3")


def test_stop_triggers_on_last() -> None:
    engine, quotes, _, _ = _engine()
    _quote(engine, quotes, 99.99, 100.01, 100.0)
    commands.place(engine, ACCT, [{"conid": AAPL.conid, "side": "SELL", "orderType": "STP",
                         "quantity": 1, "auxPrice": 99, "tif": "GTC"}])  # fmt: skip
    [row] = engine.views.orders()["orders"]
    assert row["status"] == "PreSubmitted"
    _quote(engine, quotes, 98.9, 99.1, 99.0)
    assert engine.views.orders()["orders"][0]["status"] == "Filled"
    assert engine.views.trades()[0]["price"] == "98.90"


def test_bracket_children_wait_then_oca() -> None:
    engine, quotes, _, _ = _engine()
    _quote(engine, quotes, 99.99, 100.01, 100.0)
    commands.place(engine, ACCT, [
        _lmt("BUY", 10, 99, cOID="p"),
        _lmt("SELL", 10, 101, cOID="tp", parentId="p"),
        {"conid": AAPL.conid, "side": "SELL", "orderType": "STP", "quantity": 10,
         "auxPrice": 98, "parentId": "p", "tif": "GTC"},
    ])  # fmt: skip
    assert [r["status"] for r in engine.views.orders()["orders"]] == ["Submitted", "PreSubmitted",
                                                                "PreSubmitted"]  # fmt: skip
    _quote(engine, quotes, 98.9, 99.0, 99.0)  # parent fills
    assert [r["status"] for r in engine.views.orders()["orders"]] == ["Filled", "Submitted",
                                                                "PreSubmitted"]  # fmt: skip
    _quote(engine, quotes, 100.99, 101.01, 101.0)  # take profit fills, stop is cancelled
    statuses = [r["status"] for r in engine.views.orders()["orders"]]
    assert statuses == ["Filled", "Filled", "Cancelled"]
    assert engine.views.positions(ACCT) == []


def test_close_session_expires_day_fills_moc_and_resets_daily_pnl() -> None:
    engine, quotes, clock, _ = _engine()
    _quote(engine, quotes, 99.99, 100.01, 100.0)
    commands.place(engine, ACCT, [_lmt("BUY", 1, 99), {"conid": AAPL.conid, "side": "BUY",
                         "orderType": "MOC", "quantity": 2, "tif": "DAY"},
                        _lmt("BUY", 1, 98, tif="GTC")])  # fmt: skip
    clock.advance(seconds=60)
    engine.close_session()
    statuses = [r["status"] for r in engine.views.orders()["orders"]]
    assert statuses == ["Cancelled", "Filled", "Submitted"]
    assert engine.views.pnl()["upnl"]["DU1.Core"]["dpl"] == 0.0


def test_futures_multiplier_and_pnl_events() -> None:
    engine, quotes, _, _ = _engine(cash="1000000")
    pnl: list[PnlChanged] = []
    engine.journal.add_listener(lambda e: pnl.append(e) if isinstance(e, PnlChanged) else None)
    _quote(engine, quotes, 5000, 5000.25, 5000, conid=ES.conid)
    commands.place(
        engine, ACCT, [{"conid": ES.conid, "side": "BUY", "orderType": "MKT", "quantity": 2}]
    )
    _quote(engine, quotes, 5010, 5010.25, 5010, conid=ES.conid)
    # 9.75 points x 50 x 2 contracts, less the 2 x 0.85 commission paid to open
    assert engine.journal.portfolio_of(ACCT).unrealized == D(2) * D("9.75") * 50 - D("1.70")
    assert pnl[-1].unrealized == D("973.30") and pnl[-1].account == ACCT


def test_replay_rebuilds_identical_state() -> None:
    engine, quotes, _, store = _engine()
    _quote(engine, quotes, 99.99, 100.01, 100.0, size=4)
    commands.place(engine, ACCT, [_lmt("BUY", 10, 100.01, cOID="a"), _lmt("SELL", 3, 101)])
    events = list(store.replay())
    assert any(isinstance(e, OrderFilled) for e in events)
    again, *_ = _engine(store)
    assert again.state.orders == engine.state.orders
    assert again.state.fills == engine.state.fills
    assert again.journal.portfolio_of(ACCT).cash == engine.journal.portfolio_of(ACCT).cash
    with pytest.raises(OrderRejected, match="already registered"):
        commands.place(again, ACCT, [_lmt("BUY", 1, 100, cOID="a")])


def test_a_stop_order_takes_its_stop_price_from_price_as_the_client_portal_api_does() -> None:
    engine, quotes, *_ = _engine()
    _quote(engine, quotes, 99.99, 100.01, 100.0)
    order = {"conid": AAPL.conid, "side": "SELL", "orderType": "STP", "quantity": 1, "price": 95}
    ack = commands.place(engine, ACCT, [order])
    placed = engine.state.orders[int(ack[0]["order_id"])]
    assert placed.aux_price == D(95) and placed.price is None and placed.is_working


def test_commission_minimum_is_charged_once_per_order_not_per_partial_fill() -> None:
    engine, quotes, *_ = _engine(cash="10000000")
    _quote(engine, quotes, 99.99, 100.01, 100.0, size=600)
    ack = commands.place(engine, ACCT, [_lmt("BUY", 3000, "100.01", tif="GTC")])
    order_id = int(ack[0]["order_id"])
    for _ in range(6):
        _quote(engine, quotes, 99.99, 100.01, 100.0, size=600)
    fills = [f for f in engine.state.fills if f.order_id == order_id]
    assert len(fills) == 5 and sum(f.quantity for f in fills) == 3000
    assert sum(f.commission for f in fills) == D("15.00")  # 0.005 x 3000, one minimum at most


def test_an_instrument_in_a_currency_without_a_rate_to_the_base_is_refused() -> None:
    quotes, clock, store = QuoteBook(), FakeClock(), MemoryEventStore()
    eur = AccountConfig("DU2", "EUR", D(100000))
    engine = TradingEngine(CATALOGUE, quotes, store, clock, accounts=[eur])
    with pytest.raises(OrderRejected, match="no simulated exchange rate links USD to EUR"):
        commands.place(engine, "DU2", [_lmt("BUY", 1, 100)])


# ---- the order domain: malformed or out-of-range inputs are refused before anything is stored


def _trail(amount: Any, **kw: Any) -> dict[str, Any]:
    return {"conid": AAPL.conid, "side": "SELL", "orderType": "TRAIL", "quantity": 1,
            "trailingAmt": amount, "tif": "GTC", **kw}  # fmt: skip


def _arabic_indic(digits: str) -> str:
    return digits.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))


@pytest.mark.parametrize(
    ("order", "field"),
    [
        (_trail("1e999999"), "trailingAmt"),
        (_trail("1e-999999"), "trailingAmt"),
        (_trail(100, trailingType="%"), "trailingAmt"),
        (_trail(1, trailingType=["%"]), "trailingType"),
        (_lmt("BUY", 1, 1e26), "price"),
        (_lmt("BUY", 1, "1e30"), "price"),
        ({**_lmt("BUY", 1, 99), "orderType": "STOP_LIMIT", "auxPrice": "1e27"}, "auxPrice"),
        (_lmt("BUY", "1e999999", 99), "quantity"),
        (_lmt("BUY", 2_000_000_000, 99), "quantity"),
        (_lmt("BUY", True, 99), "quantity"),
        (_lmt("BUY", 1, 99, parentId="²"), "parentId"),
        (_lmt("BUY", 1, 99, parentId="1" * 5000), "parentId"),
        (_lmt("BUY", 1, 99, outsideRTH="no"), "outsideRTH"),
        (_lmt("BUY", 1, 99, outsideRTH=-1), "outsideRTH"),
        (_lmt("BUY", 1, 99, cOID={}), "cOID"),
        (_lmt("BUY", 1, 99, cOID="x" * 100_000), "cOID"),
        ({**_lmt("BUY", 1, 99), "conid": "٢٦٥٥٩٨"}, "conid"),
        ({**_lmt("BUY", 1, 99), "conid": "265_598"}, "conid"),
        ({**_lmt("BUY", 1, 99), "side": ["BUY"]}, "side"),
    ],
)
def test_malformed_inputs_are_a_400_naming_the_field_and_store_nothing(
    order: dict[str, Any], field: str
) -> None:
    engine, quotes, _, store = _engine()
    _quote(engine, quotes, 99.99, 100.01, 100.0)
    with pytest.raises(RequestError) as info:
        commands.place(engine, ACCT, [order])
    assert http_answer(info.value)[0] == 400 and f"Invalid {field}" in info.value.message
    assert len(store) == 0 and len(info.value.message) < 200
    _quote(engine, quotes, 98.99, 99.01, 99.0)  # the next quote is matched as usual


def test_a_poison_trailing_amount_is_refused_on_modify_and_the_order_keeps_trailing() -> None:
    engine, quotes, _, store = _engine()
    _quote(engine, quotes, 99.99, 100.01, 100.0)
    [ack] = commands.place(engine, ACCT, [_trail(1)])
    order_id, stored = int(ack["order_id"]), len(store)
    for change in ({"trailingAmt": "1e999999"}, {"price": "1e26"}, {"quantity": "1e999999"}):
        with pytest.raises(RequestError, match=r"^Invalid "):
            commands.modify(engine, ACCT, order_id, change)
    with pytest.raises(OrderRejected, match="positive trailingAmt"):
        commands.modify(engine, ACCT, order_id, {"trailingAmt": 0})
    with pytest.raises(RequestError, match="below 100"):
        commands.modify(engine, ACCT, order_id, {"trailingType": "%", "trailingAmt": 100})
    assert len(store) == stored
    _quote(engine, quotes, 101.99, 102.01, 102.0)  # the stop ratchets up to 102 - 1
    assert engine.state.orders[order_id].aux_price == D("101.00")


def test_the_engine_refuses_to_store_numbers_it_cannot_compute_with() -> None:
    engine, quotes, _, _ = _engine()
    _quote(engine, quotes, 99.99, 100.01, 100.0)
    [ack] = commands.place(engine, ACCT, [_trail(1)])
    order = engine.state.orders[int(ack["order_id"])]
    assert check_domain(order) is order
    for poison in (
        dataclasses.replace(order, trailing_amount=D("1e999999")),
        dataclasses.replace(order, quantity=D("Infinity")),
        dataclasses.replace(order, aux_price=D("1e26")),
        dataclasses.replace(order, trailing_type=TrailingType.PERCENT, trailing_amount=D(150)),
    ):
        with pytest.raises(OrderRejected, match="Order rejected"):
            check_domain(poison)


def test_an_order_id_in_other_digits_is_no_parent() -> None:
    engine, quotes, _, _ = _engine()
    _quote(engine, quotes, 99.99, 100.01, 100.0)
    [ack] = commands.place(engine, ACCT, [_lmt("BUY", 1, 99)])
    with pytest.raises(RequestError, match="Invalid parentId") as info:
        commands.place(
            engine, ACCT, [_lmt("SELL", 1, 101, parentId=_arabic_indic(ack["order_id"]))]
        )
    assert http_answer(info.value)[0] == 400
    [child] = commands.place(engine, ACCT, [_lmt("SELL", 1, 101, parentId=ack["order_id"])])
    assert engine.state.orders[int(child["order_id"])].parent_id == int(ack["order_id"])


def test_outside_rth_takes_json_booleans_and_the_words_true_and_false() -> None:
    engine, quotes, _, _ = _engine()
    _quote(engine, quotes, 99.99, 100.01, 100.0)
    stored = {}
    for raw in (True, False, "false", "true", None):
        [ack] = commands.place(engine, ACCT, [_lmt("BUY", 1, 99, outsideRTH=raw)])
        stored[raw] = engine.state.orders[int(ack["order_id"])].outside_rth
    assert stored == {True: True, False: False, "false": False, "true": True, None: False}
    order_id = int(ack["order_id"])
    commands.modify(engine, ACCT, order_id, {"outsideRTH": True})
    assert engine.state.orders[order_id].outside_rth is True
    with pytest.raises(RequestError, match="Invalid outsideRTH"):
        commands.modify(engine, ACCT, order_id, {"outsideRTH": "yes"})


def test_a_coid_is_taken_while_its_order_works_and_for_24_hours() -> None:
    engine, quotes, clock, _ = _engine()
    _quote(engine, quotes, 99.99, 100.01, 100.0)
    [ack] = commands.place(engine, ACCT, [_lmt("BUY", 1, 99, cOID="c" * 128)])
    commands.place(engine, "DU2", [_lmt("BUY", 1, 99, cOID="c" * 128)])  # per account
    engine.desk.cancel(ACCT, int(ack["order_id"]))
    clock.advance(seconds=23 * 3600)
    with pytest.raises(OrderRejected, match="already registered"):
        commands.place(engine, ACCT, [_lmt("BUY", 1, 99, cOID="c" * 128)])
    clock.advance(seconds=3600)
    [again] = commands.place(engine, ACCT, [_lmt("BUY", 1, 99, cOID="c" * 128)])
    assert again["local_order_id"] == "c" * 128
    [child] = commands.place(engine, ACCT, [_lmt("SELL", 1, 101, parentId="c" * 128)])
    assert engine.state.orders[int(child["order_id"])].parent_id == int(again["order_id"])
    clock.advance(seconds=48 * 3600)
    with pytest.raises(OrderRejected, match="already registered"):  # still working
        commands.place(engine, ACCT, [_lmt("BUY", 1, 99, cOID="c" * 128)])


def test_cash_quantity_orders_and_oversized_batches_are_refused_clearly() -> None:
    engine, quotes, _, store = _engine()
    _quote(engine, quotes, 99.99, 100.01, 100.0)
    with pytest.raises(OrderRejected, match=r"cashQty .* is not simulated"):
        commands.place(engine, ACCT, [{**_lmt("BUY", 1, 99), "cashQty": 500}])
    with pytest.raises(RequestError, match="at most 100, got 101") as info:
        commands.place(engine, ACCT, [_lmt("BUY", 1, 99)] * 101)
    assert http_answer(info.value)[0] == 400 and len(store) == 0


def test_suppressed_message_ids_are_spelt_like_ibkr_and_bounded() -> None:
    engine, quotes, _, _ = _engine()
    engine.desk.reset_suppressed()
    for ids in (["o10151", "x" * 1000], ["o1\n"], [f"o{n}" for n in range(300)]):
        with pytest.raises(RequestError) as info:
            engine.desk.suppress(ids)
        assert http_answer(info.value)[0] == 400
    engine.desk.reset_suppressed()
    _quote(engine, quotes, 99.99, 100.01, 100.0)
    [question] = commands.place(engine, ACCT, [{**_lmt("BUY", 1, 99), "orderType": "MKT"}])
    assert question["messageIds"] == ["o10151"]  # a refused request suppressed nothing
    assert engine.desk.suppress(["o10151", "p6"]) == {"status": "submitted"}


def test_a_child_of_a_filled_parent_is_refused_instead_of_held_forever() -> None:
    engine, quotes, _, store = _engine()
    _quote(engine, quotes, 99.99, 100.01, 100.0)
    [parent] = commands.place(engine, ACCT, [{**_lmt("BUY", 1, 99), "orderType": "MKT"}])
    assert parent["order_status"] == "Filled"
    stored = len(store)
    with pytest.raises(OrderRejected, match=r"parent order .* is Filled"):
        commands.place(engine, ACCT, [_lmt("SELL", 1, 100.5, parentId=parent["order_id"])])
    assert len(store) == stored
    _quote(engine, quotes, 100.99, 101.01, 101.0)  # would have filled the held child: no error


# ---- market hours: OPG at the open, regular and extended hours, closes per market ----------

# Wednesday 2026-12-02: 03:30 UTC is night, 10:00 UTC pre-market, 14:30 UTC the open.
NIGHT = 1_796_182_200_000_000_000
PRE_MARKET = NIGHT + (6 * 3600 + 1800) * 1_000_000_000
REGULAR = PRE_MARKET + (4 * 3600 + 1800) * 1_000_000_000


def _place(engine: TradingEngine, order: dict[str, Any]) -> int:
    [ack] = commands.place(engine, ACCT, [order])
    assert "order_id" in ack, ack
    return int(ack["order_id"])


def _exchange_engine(now_ns: int) -> tuple[TradingEngine, QuoteBook, FakeClock]:
    from tickgate.market.market_hours import MarketHours, Mode

    quotes, clock = QuoteBook(), FakeClock(now_ns)
    hours = MarketHours([AAPL, ES], Mode.EXCHANGE)
    engine = TradingEngine(
        CATALOGUE, quotes, MemoryEventStore(), clock, accounts=[AccountConfig(ACCT)], hours=hours
    )
    engine.desk.suppress(["o10151", "o354", "o163"])
    return engine, quotes, clock


def test_exchange_hours_fill_outside_rth_orders_only_in_extended_hours() -> None:
    engine, quotes, clock = _exchange_engine(NIGHT)
    plain = _place(engine, _lmt("BUY", 10, 101))
    extended = _place(engine, _lmt("BUY", 10, 101, outsideRTH=True))
    _quote(engine, quotes, 99.99, 100.01, 100.0)
    assert engine.state.orders[plain].filled_quantity == 0  # night: the market is closed
    assert engine.state.orders[extended].filled_quantity == 0
    clock.set(PRE_MARKET)
    _quote(engine, quotes, 99.98, 100.02, 100.0)
    assert engine.state.orders[plain].filled_quantity == 0
    assert engine.state.orders[extended].filled_quantity == 10
    clock.set(REGULAR)
    _quote(engine, quotes, 99.99, 100.01, 100.0)
    assert engine.state.orders[plain].filled_quantity == 10


def test_opg_orders_wait_for_the_open_and_what_does_not_fill_there_expires() -> None:
    engine, quotes, clock = _exchange_engine(PRE_MARKET)
    _quote(engine, quotes, 99.99, 100.01, 100.0)
    market = _place(
        engine,
        {"conid": AAPL.conid, "side": "BUY", "orderType": "MKT", "quantity": 10, "tif": "OPG"},
    )
    limit = _place(engine, _lmt("BUY", 10, 90, tif="OPG"))
    clock.set(REGULAR - 1)
    _quote(engine, quotes, 99.98, 100.02, 100.0)
    assert engine.state.orders[market].status.value == "PreSubmitted"
    engine.close_market(REGULAR - 1, conids=[AAPL.conid])  # a close does not touch them
    assert engine.state.orders[market].is_working and engine.state.orders[limit].is_working
    clock.set(REGULAR)
    engine.open_auction(REGULAR, conids=[AAPL.conid])
    assert engine.state.orders[market].filled_quantity == 10
    assert engine.state.orders[market].avg_price == D("100.02")
    assert not engine.state.orders[limit].is_working  # not filled at the open: expired
    with pytest.raises(OrderRejected, match="tif OPG is for MKT and LMT"):
        _place(engine, {**_lmt("BUY", 1, 90), "orderType": "STP", "tif": "OPG"})


def test_a_market_close_expires_only_its_own_day_orders() -> None:
    engine, _quotes, clock = _exchange_engine(NIGHT)
    stock = _place(engine, _lmt("BUY", 1, 50))
    future = _place(engine, {**_lmt("BUY", 1, 50), "conid": ES.conid})
    clock.advance(seconds=1)
    engine.close_market(clock.now_ns(), conids=[AAPL.conid])
    assert not engine.state.orders[stock].is_working
    assert engine.state.orders[future].is_working


def test_the_engine_takes_typed_commands_and_never_reads_json() -> None:
    engine, quotes, _, store = _engine()
    _quote(engine, quotes, 99.99, 100.01, 100.0)
    order = PlaceOrder(AAPL.conid, Side.BUY, OrderType.LMT, D(5), TimeInForce.GTC, price=D("99.50"))
    [ack] = engine.desk.place(ACCT, [order])
    order_id = int(ack["order_id"])
    [mod] = engine.desk.modify(ACCT, ModifyOrder(order_id, quantity=D(7), price=D("99.40")))
    changed = engine.state.orders[order_id]
    assert (mod["order_id"], changed.quantity, changed.price) == (str(order_id), 7, D("99.40"))
    assert changed.tif is TimeInForce.GTC and len(store) == 2
    with pytest.raises(NotFoundError, match="Invalid conid 1"):  # no catalogue entry
        engine.desk.place(ACCT, [PlaceOrder(1, Side.BUY, OrderType.MKT, D(1), TimeInForce.DAY)])
