"""The portal dialect: every sentence of the seed's streaming page, error texts, encoders."""

from __future__ import annotations

import json
from decimal import Decimal

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tickgate.errors import ProtocolError
from tickgate.protocol import fields as F
from tickgate.protocol.fields import KNOWN_FIELDS
from tickgate.protocol.portal import (
    NUMBER_FIELDS,
    PortalCommand,
    SubscribeAccount,
    SubscribeMarketData,
    UnsubscribeAccount,
    UnsubscribeMarketData,
    encode_account_orders,
    encode_error,
    encode_market,
    encode_topic_payload,
    market_values,
    parse,
    wire_text,
)


def error_of(text: str, **kwargs: object) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        parse(text, **kwargs)  # type: ignore[arg-type]
    return caught.value


# --- the seed's own examples ------------------------------------------------------------------


def test_seed_sample_request() -> None:
    command = parse('s+md+107113386+{"tempo":1000,"snapshot":true,"fields":"55,22,23"}')
    assert command == SubscribeMarketData(107113386, (55, 22, 23), tempo_ms=1000, snapshot=True)


def test_seed_unsubscribe_and_account_examples() -> None:
    assert parse("u+md+107113386") == UnsubscribeMarketData(107113386)
    assert parse("s+realtime-account-data+UXXXX") == SubscribeAccount("UXXXX")
    assert parse("u+realtime-account-data+DU1234567") == UnsubscribeAccount("DU1234567")


def test_bare_subscribe_means_every_change_of_the_default_fields() -> None:
    assert parse("s+md+265598") == SubscribeMarketData(265598, None, tempo_ms=0, snapshot=False)
    assert parse("s+md+265598+{}") == SubscribeMarketData(265598, None, tempo_ms=0, snapshot=False)


# --- tolerated variants ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "  s+md+265598+{}\n",
        "s + md + 265598 + { }",
        's+md+265598+{"tempo":0}',
        's+md+265598+{"tempo":0.0,"snapshot":false}',
        's+md+265598+{"snapshot":"false"}',
        's+md+265598+{"snapshot":"FALSE"}',
    ],
)
def test_whitespace_and_equivalent_spellings(text: str) -> None:
    assert parse(text) == SubscribeMarketData(265598, None, tempo_ms=0, snapshot=False)


@pytest.mark.parametrize(
    "fields",
    ['"31,84,86"', '" 31 , 84,86 "', "[31,84,86]", '["31","84","86"]', '[31,"84",86,31,"84"]'],
)
def test_fields_forms(fields: str) -> None:
    command = parse('s+md+1+{"fields":' + fields + "}")
    assert isinstance(command, SubscribeMarketData) and command.fields == (31, 84, 86)


def test_json_options_may_contain_plus_signs_and_unsubscribe_may_carry_empty_options() -> None:
    # The '+' inside the JSON must not be taken for a separator: the key is reported whole.
    assert "unknown option 'a+b'" in error_of('s+md+1+{"a+b":"+"}').message
    assert parse("u+md+8314+{}") == UnsubscribeMarketData(8314)
    assert parse("s+realtime-account-data+U1+{}") == SubscribeAccount("U1")


def test_snapshot_true_spellings_and_tempo_bounds() -> None:
    for spelling in ("true", '"true"', '"True"'):
        command = parse('s+md+1+{"snapshot":' + spelling + "}")
        assert isinstance(command, SubscribeMarketData) and command.snapshot
    command = parse('s+md+1+{"tempo":3600000}')
    assert isinstance(command, SubscribeMarketData) and command.tempo_ms == 3_600_000
    assert parse('s+md+1+{"tempo":20}', max_tempo_ms=20) == SubscribeMarketData(1, None, 20, False)


def test_known_fields_can_be_narrowed() -> None:
    assert (
        "unknown field id 31"
        in error_of('s+md+1+{"fields":"31"}', known_fields=frozenset({84})).message
    )


# --- errors: message and topic -----------------------------------------------------------------

ERRORS = [
    ('s+md+265598+{"fields":"55,99999"}', "md+265598", "unknown field id 99999 in fields"),
    (
        's+md+265598+{"tempo":-5}',
        "md+265598",
        "tempo must be a whole number of milliseconds between 0 and 3600000, got -5",
    ),
    ('s+md+1+{"tempo":1.5}', "md+1", "got 1.5"),
    ('s+md+1+{"tempo":true}', "md+1", "got true"),
    ('s+md+1+{"tempo":"1000"}', "md+1", "got '1000'"),
    ('s+md+1+{"tempo":3600001}', "md+1", "between 0 and 3600000, got 3600001"),
    ('s+md+1+{"tempo":1e300}', "md+1", "tempo must be"),
    ('s+md+1+{"tempo":', "md+1", "malformed JSON options: "),
    ('s+md+1+{"tempo":1} trailing', "md+1", "malformed JSON options: "),
    ("s+foo+1", None, "unknown topic 'foo'; supported: md, realtime-account-data"),
    ("s+realtime-data+1", None, "unknown topic 'realtime-data'"),
    ("s+md+abc", None, "conid must be a positive integer, got 'abc'"),
    ("s+md+0", None, "conid must be a positive integer, got '0'"),
    ("s+md+-1", None, "conid must be a positive integer"),
    ("s+md+99999999999", None, "conid must be a positive integer"),
    ("s+md+١٢٣", None, "conid must be a positive integer"),
    ("s+md+265598@SMART", None, "conid must be a positive integer"),
    ('s+md+1+{"tempo":1,"color":"red"}', "md+1", "unknown option 'color'"),
    ('u+md+1+{"fields":"31"}', "md+1", "unknown option 'fields': u+md takes no options"),
    ('s+realtime-account-data+U1+{"x":1}', "realtime-account-data+U1", "unknown option 'x'"),
    ("s+realtime-account-data+U 1", None, "account must be an account id"),
    ("s+realtime-account-data+", None, "account must be an account id"),
    ('s+md+1+{"snapshot":1}', "md+1", "snapshot must be true or false, got 1"),
    ('s+md+1+{"snapshot":"yes"}', "md+1", "snapshot must be true or false, got 'yes'"),
    ('s+md+1+{"fields":31}', "md+1", 'comma-separated string like "55,22,23"'),
    ('s+md+1+{"fields":""}', "md+1", "field ids must be whole numbers, got ''"),
    ('s+md+1+{"fields":[]}', "md+1", "fields must name at least one field id"),
    ('s+md+1+{"fields":"31,x"}', "md+1", "field ids must be whole numbers, got 'x' in fields"),
    ('s+md+1+{"fields":[31.0]}', "md+1", "field ids must be whole numbers, got 31.0"),
    ('s+md+1+{"fields":[true]}', "md+1", "field ids must be whole numbers, got true"),
    ('s+md+1+{"fields":"' + "9" * 5000 + '"}', "md+1", "field ids must be whole numbers"),
    ("s+md+1+[31]", "md+1", "expected JSON options like"),
    ('s+md+1+"x"', "md+1", "expected JSON options like"),
    ("s+md+1+[]+{}", "md+1", "after the last '+', got '[]'"),
    ("s+md+1{}", "md+1", "JSON options must follow a '+'"),
    ("s+md+1+1", "md+1", "expected JSON options like"),
    ("s+md+1+2+3", "md+1", "too many '+' separated parts"),
    ('s+md+1+{"fields":"31"}+x', "md+1", "malformed JSON options"),
    ("s+md+1+{}", None, None),
    ("x+md+1", "md+1", "a message starts with s+ (subscribe) or u+ (unsubscribe), got 'x'"),
    ("s+md", None, "md needs a conid: s+md+CONID"),
    ("u+realtime-account-data", None, "needs an account id"),
    ("s", None, "missing topic"),
    ("", None, "empty message"),
    ("   ", None, "empty message"),
    ('{"session":"abc"}', None, "expected a command, not a JSON object"),
    ("smd+265598+{}", None, "a message starts with s+"),
]


@pytest.mark.parametrize(("text", "topic", "needle"), ERRORS)
def test_errors_name_the_problem_and_the_topic(
    text: str, topic: str | None, needle: str | None
) -> None:
    if needle is None:  # a control row: the text is valid, so the others fail for their reason
        parse(text)
        return
    error = error_of(text)
    assert needle in error.message and str(error) == error.message
    assert error.topic == topic


# --- property tests: nothing but ProtocolError ever escapes ------------------------------------


def check(text: str) -> None:
    try:
        command = parse(text)
    except ProtocolError as error:
        assert error.message
        assert error.topic is None or error.topic.startswith(("md+", "realtime-account-data+"))
        return
    assert_valid(command)


def assert_valid(command: PortalCommand) -> None:
    if isinstance(command, SubscribeMarketData | UnsubscribeMarketData):
        assert 0 < command.conid < 2**31
    if isinstance(command, SubscribeMarketData):
        assert 0 <= command.tempo_ms <= 3_600_000
        fields = command.fields
        assert fields is None or (fields and len(set(fields)) == len(fields))
        assert fields is None or set(fields) <= KNOWN_FIELDS | {22, 23}


@given(st.text())
def test_arbitrary_text_only_raises_protocol_error(text: str) -> None:
    check(text)


json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["31", "84,86", "true", "false", "55,22,23", " 31 ", "31,,", "9" * 30]),
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner),
    max_leaves=8,
)
option_key = st.sampled_from(["tempo", "snapshot", "fields", "Tempo", "", "topic"]) | st.text()
options = st.dictionaries(option_key, json_value, max_size=4).map(
    json.dumps  # the standard encoder also writes integers beyond 64 bits
)
near_miss = st.tuples(
    st.sampled_from(["s", "u", "S", "", " s", "x", "sm", "s+"]),
    st.sampled_from(["md", "realtime-account-data", "MD", "foo", "", "md ", "realtime-data"]),
    st.one_of(
        st.integers(min_value=-5, max_value=2**40).map(str),
        st.sampled_from(["", "abc", "U123", "DU1234567", "0", "007", "1.5", "²", "1e3", "+1"]),
        st.text(max_size=8),
    ),
    st.one_of(st.none(), options, st.text(max_size=20), st.sampled_from(["{", "}", "{}", "[]"])),
    st.sampled_from(["+", "", "++", " + "]),
)


@settings(max_examples=500)
@given(near_miss, st.integers(min_value=0, max_value=80), st.text(max_size=3))
def test_near_miss_commands_only_raise_protocol_error(
    parts: tuple[str, str, str, str | None, str], cut: int, noise: str
) -> None:
    op, topic, arg, opts, sep = parts
    text = f"{op}{sep}{topic}{sep}{arg}" + ("" if opts is None else f"{sep}{opts}")
    check(text)
    check(text[:cut])
    check(text[:cut] + noise + text[cut:])


@given(
    st.integers(min_value=1, max_value=2**31 - 1),
    st.lists(st.sampled_from(sorted(KNOWN_FIELDS)), min_size=1, max_size=8),
    st.integers(min_value=0, max_value=3_600_000),
    st.booleans(),
    st.booleans(),
)
def test_valid_subscriptions_round_trip(
    conid: int, fields: list[int], tempo: int, snapshot: bool, as_list: bool
) -> None:
    wire: object = fields if as_list else ",".join(map(str, fields))
    options = orjson.dumps({"fields": wire, "tempo": tempo, "snapshot": snapshot}).decode()
    command = parse(f"s+md+{conid}+{options}")
    assert command == SubscribeMarketData(conid, tuple(dict.fromkeys(fields)), tempo, snapshot)


# --- encoders ----------------------------------------------------------------------------------


def test_encode_market_types_values_as_the_seed_sample_does() -> None:
    payload = encode_market(107113386, {31: "154.81"}, 123)
    assert payload == b'{"31":154.81,"topic":"md+107113386"}'  # the seed's sample response
    payload = encode_market(107113386, {31: "154.80", 84: "154.79", 88: "1,300"}, 123)
    assert payload == b'{"31":154.8,"84":154.79,"88":1300,"topic":"md+107113386"}'
    assert list(orjson.loads(payload)) == ["31", "84", "88", "topic"]
    assert encode_market(5, {}, 0) == b'{"topic":"md+5"}'


def test_values_with_a_prefix_unit_or_sign_and_text_fields_stay_text() -> None:
    values = {31: "C154.81", 70: "H1.00", 87: "1.23M", 82: "+1.25", 83: "-0.45", 55: "AAPL",
              7308: "0.512", 6509: "RpB", 6008: "265598"}  # fmt: skip
    assert orjson.loads(encode_market(1, values, 0)) == {
        "31": "C154.81", "70": "H1.00", "87": "1.23M", "82": "+1.25", "83": "-0.45",
        "55": "AAPL", "7308": "0.512", "6509": "RpB", "6008": 265598, "topic": "md+1",
    }  # fmt: skip
    assert set(market_values({fid: "1.5" for fid in NUMBER_FIELDS}).values()) == {1.5}


@given(
    fid=st.sampled_from(sorted(NUMBER_FIELDS)),
    ticks=st.integers(min_value=0, max_value=10**12),
    decimals=st.integers(min_value=0, max_value=6),
)
def test_a_price_or_size_leaves_as_a_number_with_exactly_its_decimal_value(
    fid: int, ticks: int, decimals: int
) -> None:
    text = f"{Decimal(ticks).scaleb(-decimals):f}"
    sent = orjson.loads(encode_market(1, {fid: text}, 0))[str(fid)]
    written = orjson.dumps(sent).decode()
    if len(str(ticks)) > 15:
        assert sent == text  # more digits than a double carries exactly: kept as text
        return
    assert isinstance(sent, int | float)
    # The JSON text is the decimal itself (no 189.49999999999997), trailing zeros aside.
    assert Decimal(written) == Decimal(text)
    assert len(written.rstrip("0").rstrip(".")) <= len(text)


@given(
    ticks=st.integers(min_value=0, max_value=10**9),
    decimals=st.integers(min_value=0, max_value=6),
    size=st.integers(min_value=0, max_value=10**12),
    prefix=st.sampled_from(["", "C", "H"]),
)
def test_a_client_gets_back_the_engines_text_with_the_instruments_decimals(
    ticks: int, decimals: int, size: int, prefix: str
) -> None:
    price = F.format_price(Decimal(ticks).scaleb(-decimals), decimals)
    values = {F.LAST: prefix + price, F.BID: price, F.BID_SIZE: F.format_size(size),
              F.VOLUME_EXACT: str(size), F.CHANGE: "+1.25", F.SYMBOL: "AAPL"}  # fmt: skip
    frame = orjson.loads(encode_market(1, values, 0))
    assert {fid: wire_text(fid, frame[str(fid)], decimals) for fid in values} == values


def test_encode_market_escapes_values() -> None:
    payload = encode_market(1, {55: 'A"B\\C'}, 0)
    assert orjson.loads(payload) == {"55": 'A"B\\C', "topic": "md+1"}


def test_encode_error_with_and_without_topic() -> None:
    assert encode_error("unknown topic 'foo'", None) == b'{"error":"unknown topic \'foo\'"}'
    assert orjson.loads(encode_error("bad", "md+1")) == {"error": "bad", "topic": "md+1"}


def test_encode_account_orders_matches_the_seed_shape() -> None:
    orders: list[dict[str, object]] = [{"acct": "UXXXX", "conid": 1234, "price": Decimal("1.10")}]
    payload = encode_account_orders("UXXXX", orders)
    assert payload == (
        b'{"orders":[{"acct":"UXXXX","conid":1234,"price":"1.10"}],'
        b'"topic":"realtime-account-data+UXXXX"}'
    )


def test_encode_topic_payload_puts_the_topic_last_and_refuses_unknown_types() -> None:
    payload = encode_topic_payload("md+1", {"topic": "ignored", "a": 1})
    assert payload == b'{"a":1,"topic":"md+1"}'
    with pytest.raises(TypeError, match="object"):
        encode_topic_payload("md+1", {"a": object()})
