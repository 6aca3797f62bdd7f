"""The api dialect: every client form of protocol reference §4.2/§4.3, and the server frames."""

from __future__ import annotations

import contextlib
import json
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tickgate.errors import ProtocolError
from tickgate.protocol.api import frames
from tickgate.protocol.api import grammar as C

# Exactly what ibind 0.2.2 sends (its ibkr_subscriptions.py and unit tests), then ibind 0.1.x and
# IBKR's documented forms.
IBIND_FORMS: list[tuple[str, Any]] = [
    ('smd+265598+{"fields":["31","84","86"]}', C.SubscribeMarketData(265598, None, (31, 84, 86))),
    ("umd+265598+{}", C.UnsubscribeMarketData(265598)),
    ("smh+67890+{}", C.SubscribeHistory(67890, None, None, None, False, None, None)),
    (
        'smh+265598+{"period":"1d","bar":"1min","outside_rth":true,"source":"trades",'
        '"format":"%o/%c/%h/%l"}',
        C.SubscribeHistory(265598, None, "1d", "1min", True, "trades", "%o/%c/%h/%l"),
    ),
    ("umh+341115", C.UnsubscribeHistory("341115")),
    ("sbd+ACC789+11111+NASDAQ", C.SubscribeDepth("ACC789", 11111, "NASDAQ")),
    ("sbd+ACC789+11111", C.SubscribeDepth("ACC789", 11111, None)),
    ("ubd+ACC789", C.UnsubscribeDepth("ACC789")),
    ("sor+{}", C.SubscribeOrders(())),
    ('sor+{"filters": ["inactive"]}', C.SubscribeOrders(("inactive",))),
    ("uor+{}", C.Unsubscribe("or")),
    ("spl", C.SubscribePnl()),
    ("upl", C.Unsubscribe("pl")),
    ("str+{}", C.SubscribeTrades(False, 1)),
    ('str+{"realtime_updates_only":true}', C.SubscribeTrades(True, 1)),
    ('str+{"realtime_updates_only":false,"days":3}', C.SubscribeTrades(False, 3)),
    ("utr", C.Unsubscribe("tr")),
    ("ssd+ACC123+{}", C.SubscribeSummary("ACC123", (), ())),
    (
        'ssd+ACC123+{"keys":["AccruedCash-S","ExcessLiquidity-S"]}',
        C.SubscribeSummary("ACC123", ("AccruedCash-S", "ExcessLiquidity-S"), ()),
    ),
    (
        'ssd+ACC123+{"fields":["currency","monetaryValue"]}',
        C.SubscribeSummary("ACC123", (), ("currency", "monetaryValue")),
    ),
    ("usd+ACC123", C.Unsubscribe("sd", "ACC123")),
    (
        'sld+ACC456+{"keys":["LedgerListEUR","LedgerListUSD"]}',
        C.SubscribeLedger("ACC456", ("LedgerListEUR", "LedgerListUSD"), ()),
    ),
    ("uld+ACC456", C.Unsubscribe("ld", "ACC456")),
    ("tic", C.Tickle()),
]

OTHER_CLIENT_FORMS: list[tuple[str, Any]] = [
    (
        'smd+265598+{"fields": ["55", "71", "84"]}',
        C.SubscribeMarketData(265598, None, (55, 71, 84)),
    ),
    ('smd+265598+{"fields":[31,84,31]}', C.SubscribeMarketData(265598, None, (31, 84))),
    ('smd+265598+{"fields":"31, 84,86"}', C.SubscribeMarketData(265598, None, (31, 84, 86))),
    ("smd+265598@SMART+{}", C.SubscribeMarketData(265598, "SMART", None)),
    ("smd+265598", C.SubscribeMarketData(265598, None, None)),
    (' smd + 8314 + { "fields" : [ "31" ] } ', C.SubscribeMarketData(8314, None, (31,))),
    ("umd+265598", C.UnsubscribeMarketData(265598)),
    (
        'smh+1+{"exchange":"ISLAND","period":"2h","bar":"5min","outsideRth":false,'
        '"source":"trades","format":"%h/%l"}',
        C.SubscribeHistory(1, "ISLAND", "2h", "5min", False, "trades", "%h/%l"),
    ),
    (
        'smh+1@ISLAND+{"outsideRth":"True"}',
        C.SubscribeHistory(1, "ISLAND", None, None, True, None, None),
    ),
    ("sor", C.SubscribeOrders(())),
    ('sor+{"filters":"Submitted"}', C.SubscribeOrders(("Submitted",))),
    ("spl+{}", C.SubscribePnl()),
    ("upl+{}", C.Unsubscribe("pl")),
    ("str", C.SubscribeTrades(False, 1)),
    ('str+{"realtimeUpdatesOnly":true,"days":1}', C.SubscribeTrades(True, 1)),
    ("utr+{}", C.Unsubscribe("tr")),
    ("ssd+DU123", C.SubscribeSummary("DU123", (), ())),
    ("usd+DU123+{}", C.Unsubscribe("sd", "DU123")),
    ("uld+DU123+{}", C.Unsubscribe("ld", "DU123")),
    ('smd+1+{"fields":["31"],"tempo":1000}', C.SubscribeMarketData(1, None, (31,))),
    ("ech+hb", C.Echo("ech+hb")),
    ('{"session":"ce109cbe"}', C.Authenticate("ce109cbe")),
    ('{ "session" : "abc" }', C.Authenticate("abc")),
]


@pytest.mark.parametrize(("text", "expected"), IBIND_FORMS + OTHER_CLIENT_FORMS)
def test_every_client_form_parses(text: str, expected: Any) -> None:
    assert C.parse(text) == expected


@pytest.mark.parametrize(
    ("text", "topic", "needle"),
    [
        ("", None, "Unknown topic"),
        ("hello", None, "Unknown topic"),
        ("s+md+265598", None, "Unknown topic"),
        ("sxx+1", None, "Unknown topic"),
        ("smd", "smd", "smd+CONID"),
        ("smd+abc+{}", "smd+abc", "conid must be a positive integer"),
        ("smd+0", "smd+0", "conid"),
        ("smd+1+2+{}", "smd+1+2", "expected"),
        ("smd+1{}", None, "must follow a '+'"),
        ("smd+1+{nope}", "smd+1", "malformed JSON"),
        ("smd+1+[1]", "smd+1+[1]", "expected"),
        ('smd+1+{"fields":["x"]}', "smd+1", "whole numbers"),
        ('smd+1+{"fields":[true]}', "smd+1", "whole numbers"),
        ('smd+1+{"fields":{"a":1}}', "smd+1", "fields must be"),
        ('smd+1+{"fields":"３１"}', "smd+1", "whole numbers"),
        ("smd+1@+{}", "smd+1@", "exchange"),
        ('smh+1+{"bar":7}', "smh+1", "invalid bar"),
        ('smh+1+{"period":""}', "smh+1", "invalid period"),
        ('smh+1+{"source":"volume"}', "smh+1", "invalid source"),
        ('smh+1+{"outside_rth":1}', "smh+1", "outsideRth"),
        ("umh", "umh", "umh+SERVER_ID"),
        ("sbd+DU1", "sbd+DU1", "sbd+ACCT+CONID"),
        ("sbd+DU 1+5", "sbd+DU 1+5", "account"),
        ("sor+DU1+{}", "sor+DU1", "sor+{}"),
        ('sor+{"filters":[1]}', "sor", "filters"),
        ('str+{"days":8}', "str", "days"),
        ('str+{"days":true}', "str", "days"),
        ('str+{"realtimeUpdatesOnly":"yes"}', "str", "realtimeUpdatesOnly"),
        ("ssd+{}", "ssd", "ssd+ACCT"),
        ('ssd+DU1+{"keys":"a","fields":[""]}', "ssd+DU1", "non-empty"),
        ("usd", "usd", "usd+ACCT"),
        ("utr+DU1", "utr+DU1", "utr"),
        ('{"session":""}', None, "session"),
        ('{"session":""}', None, "session"),
        ("{oops", None, "malformed JSON"),
    ],
)
def test_bad_messages_raise_protocol_errors(text: str, topic: str | None, needle: str) -> None:
    with pytest.raises(ProtocolError) as info:
        C.parse(text)
    assert needle in info.value.message
    assert info.value.topic == topic


@given(st.text(max_size=200))
def test_nothing_but_protocol_error_escapes(text: str) -> None:
    with contextlib.suppress(ProtocolError):
        C.parse(text)


VERBS = ["smd", "umd", "smh", "umh", "sbd", "ubd", "sor", "uor", "str", "utr", "spl", "upl"]
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
OPTION_KEYS = st.sampled_from(
    [
        "fields",
        "keys",
        "filters",
        "days",
        "realtimeUpdatesOnly",
        "outside_rth",
        "bar",
        "period",
        "exchange",
        "source",
        "format",
        "session",
    ]
)


@given(
    st.sampled_from([*VERBS, "ssd", "usd", "sld", "uld"]),
    st.lists(st.text(alphabet="0123456789@ABCxyz -", max_size=8), max_size=3),
    st.dictionaries(OPTION_KEYS, JSON_VALUES, max_size=4),
)
def test_structured_garbage_only_raises_protocol_error(
    verb: str, targets: list[str], options: dict[str, Any]
) -> None:
    text = "+".join([verb, *targets, json.dumps(options)])
    try:
        C.parse(text)
    except ProtocolError as exc:
        assert exc.message


def frame(data: bytes) -> dict[str, Any]:
    value = orjson.loads(data)
    assert isinstance(value, dict)
    return value


def test_connect_burst_frames() -> None:
    assert frame(frames.encode_system_success("tickgate")) == {
        "topic": "system",
        "success": "tickgate",
        "isFT": False,
        "isPaper": True,
    }
    assert frame(frames.encode_account({"accounts": ["DU1"]})) == {
        "topic": "act",
        "args": {"accounts": ["DU1"]},
    }
    status = frame(frames.encode_status(authenticated=True, username="tickgate"))
    assert status["topic"] == "sts"
    assert status["args"]["authenticated"] is True and status["args"]["competing"] is False
    lost = frame(frames.encode_status(authenticated=False))
    assert lost["args"]["authenticated"] is False and lost["args"]["connected"] is False


def test_heartbeat_and_tic() -> None:
    assert frame(frames.encode_heartbeat(1712596920000)) == {"topic": "system", "hb": 1712596920000}
    assert frame(frames.encode_tic("abc", 17)) == {
        "topic": "tic",
        "alive": True,
        "id": "abc",
        "lastAccessed": 17,
    }


def test_market_frame_has_the_envelope_ibind_needs() -> None:
    data = frame(
        frames.encode_market(265598, {31: "168.42", 84: "168.41"}, 1_712_596_911_593_456_789)
    )
    assert data == {
        "topic": "smd+265598",
        "conid": 265598,
        "conidEx": "265598",
        "_updated": 1712596911593,
        "server_id": "q0",
        "6119": "q0",
        "6509": "RpB",
        "31": "168.42",
        "84": "168.41",
    }
    delayed = frame(frames.encode_market(1, {6509: "DpB"}, 0, server_id="q3"))
    assert delayed["6509"] == "DpB" and delayed["6119"] == "q3" and delayed["server_id"] == "q3"
    assert "error" not in delayed


def test_history_frame() -> None:
    bars = [{"o": 1.5, "c": 1.6, "h": 1.7, "l": 1.4, "v": 100.0, "t": 1000}]
    payload = {"serverId": "7", "symbol": "AAPL", "data": bars, "points": 0, "topic": "smh+265598"}
    assert frame(frames.encode_history(payload)) == payload
    with pytest.raises(ValueError, match="serverId"):
        frames.encode_history({"topic": "smh+1"})
    with pytest.raises(ValueError, match="topic"):
        frames.encode_history({"serverId": "1", "topic": "smd+1"})


def test_confirmations_and_session_messages() -> None:
    assert frame(frames.encode_unsubscribed_history("7")) == {"message": "Unsubscribed 7"}
    assert frame(frames.UNSUBSCRIBED_SUMMARY) == {"result": "unsubscribed from summary"}
    assert frame(frames.UNSUBSCRIBED_LEDGER) == {"result": "unsubscribed from ledger"}
    assert frame(frames.WAITING_FOR_SESSION) == {"message": "waiting for session"}


def test_account_topic_frames_write_decimals_as_numbers() -> None:
    pnl = frame(frames.encode_pnl({"DU1.Core": {"rowType": 1, "dpl": Decimal("-1.25")}}))
    assert pnl == {"topic": "spl", "args": {"DU1.Core": {"rowType": 1, "dpl": -1.25}}}
    assert frame(frames.encode_trades([])) == {"topic": "str", "args": []}
    assert frame(frames.encode_orders([{"orderId": 1}])) == {
        "topic": "sor",
        "args": [{"orderId": 1}],
    }
    entry = {"key": "AccountCode", "value": "DU1", "timestamp": 5}
    assert frame(frames.encode_summary("DU1", [entry])) == {"topic": "ssd+DU1", "result": [entry]}
    ledger = frame(
        frames.encode_ledger("DU1", [{"acctCode": "DU1", "key": "LedgerListBASE", "timestamp": 5}])
    )
    assert ledger["topic"] == "sld+DU1" and ledger["result"][0]["acctCode"] == "DU1"
    with pytest.raises(ValueError, match="timestamp"):
        frames.encode_summary("DU1", [{"key": "AccountCode"}])
    with pytest.raises(TypeError):
        frames.encode_orders([{"when": object()}])


def test_depth_notifications_bulletins_and_errors() -> None:
    rows = [{"row": 0, "focus": 0, "price": "190.10", "ask": "300"}]
    assert frame(frames.encode_depth("DU1", 5, None, rows)) == {"topic": "sbd+DU1+5", "data": rows}
    assert frame(frames.encode_depth("DU1", 5, "ISLAND", []))["topic"] == "sbd+DU1+5+ISLAND"
    assert frame(frames.encode_notifications([{"id": "X"}])) == {
        "topic": "ntf",
        "args": [{"id": "X"}],
    }
    assert frame(frames.encode_bulletin("1", "hi")) == {
        "topic": "blt",
        "args": {"id": "1", "message": "hi"},
    }
    assert frame(frames.encode_error("no")) == {"topic": "error", "error": "no"}
    assert frame(frames.encode_error("no", "smd+1")) == {
        "topic": "error",
        "error": "no",
        "request": "smd+1",
    }


def test_empty_fields_mean_the_default_fields_and_other_json_is_ignored() -> None:
    command = C.parse('smd+265598+{"fields":[]}')
    assert isinstance(command, C.SubscribeMarketData) and not command.fields
    assert isinstance(C.parse('{"foo": 1}'), C.Ignore)
