"""Catalogue files: TOML, JSON and CSV loading, errors with file and line, and merging."""

from __future__ import annotations

import contextlib
import csv
import io
import re
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.instruments import option, stock

from tickgate.errors import CatalogueError
from tickgate.market.catalogue.catalogue import Catalogue, default_catalogue, merge
from tickgate.market.catalogue.fields import FIELDS
from tickgate.market.catalogue.files import load_instruments, parse_instruments

CSV = """\
conid,symbol,name,sec_type,exchange,listing_exchange,min_tick,reference_price,volatility,is_etf
90000001,ACME,ACME CORP,STK,SMART,NYSE,0.01,12.34,0.4,false
90000002,ACME,ACME CORP,OPT,,,,1.25,,
"""

# The CSV above with the option's derivative fields, written three ways.
OPTION_FIELDS = {"underlying_conid": 90000001, "expiry": "20270115", "strike": 15, "right": "C"}

TOML = """\
# two instruments
[[instrument]]
conid = 90000001
symbol = "ACME"
name = "ACME CORP"
sec_type = "STK"
exchange = "SMART"
listing_exchange = "NYSE"
min_tick = 0.01
reference_price = "12.34"
volatility = 0.4

[[instrument]]
conid = 90000002
symbol = "ACME"
name = "ACME CORP"
sec_type = "opt"
reference_price = 1.25
underlying_conid = 90000001
expiry = 2027-01-15
strike = 15
right = "C"
"""

JSON = """\
{"instruments": [
  {"conid": 90000001, "symbol": "ACME", "name": "ACME CORP", "sec_type": "STK",
   "exchange": "SMART", "listing_exchange": "NYSE", "min_tick": 0.01,
   "reference_price": 12.34, "volatility": 0.4, "is_etf": false},
  {"conid": 90000002, "symbol": "ACME", "name": "ACME CORP", "sec_type": "OPT",
   "reference_price": "1.25", "underlying_conid": 90000001, "expiry": 20270115,
   "strike": 15, "right": "call"}
]}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def csv_with_option() -> str:
    header, stock_row, option_row = CSV.splitlines()
    extra = ",".join(OPTION_FIELDS)
    values = ",".join(str(v) for v in OPTION_FIELDS.values())
    return f"{header},{extra}\n{stock_row},,,,\n{option_row},{values}\n"


ACME = stock(90000001, "ACME", "ACME CORP", price="12.34", volatility=0.4, listing_exchange="NYSE")
#: What each form of the file above loads.
EXPECTED = [ACME, option(ACME, conid=90000002, expiry="20270115", strike=15, price="1.25")]


# --- loading --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text"),
    [("acme.csv", csv_with_option()), ("acme.toml", TOML), ("acme.json", JSON)],
)
def test_the_three_formats_load_the_same_instruments(tmp_path: Path, name: str, text: str) -> None:
    assert load_instruments(write(tmp_path, name, text)) == EXPECTED


def test_json_may_be_a_plain_list(tmp_path: Path) -> None:
    text = (
        '[{"conid": 5, "symbol": "X", "sec_type": "STK", "reference_price": 3}, \n'
        '{"conid": 6, "symbol": "Y", "sec_type": "STK", "reference_price": 4}]'
    )
    assert [i.conid for i in load_instruments(write(tmp_path, "a.json", text))] == [5, 6]


def test_extension_is_case_insensitive_and_a_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "A.CSV"
    path.write_bytes(b"\xef\xbb\xbfconid,symbol,sec_type,reference_price\n5,X,STK,3\n")
    assert [i.symbol for i in load_instruments(path)] == ["X"]


def test_defaults_depend_on_the_sec_type(tmp_path: Path) -> None:
    text = (
        "conid,symbol,sec_type,reference_price,exchange,expiry\n"
        "1,ABC,STK,10,,\n2,EUR.GBP,CASH,0.87,,\n3,ZZ,IND,100,CME,\n4,ZZ,FUT,101,CME,20270319\n"
    )
    stock, pair, index, future = load_instruments(write(tmp_path, "d.csv", text))
    assert (stock.name, stock.exchange, stock.currency, stock.min_tick) == (
        "ABC",
        "SMART",
        "USD",
        Decimal("0.01"),
    )
    assert (stock.multiplier, stock.volatility, stock.is_etf) == (1, 0.3, False)
    assert (pair.exchange, pair.min_tick, pair.volatility) == ("IDEALPRO", Decimal("0.00005"), 0.08)
    assert (index.exchange, index.volatility, future.expiry) == ("CME", 0.2, "20270319")


def test_comments_and_blank_lines_are_skipped_in_csv(tmp_path: Path) -> None:
    text = "# a comment\n\nconid,symbol,sec_type,reference_price\n\n# another\n5,X,STK,3\n"
    assert [i.conid for i in load_instruments(write(tmp_path, "c.csv", text))] == [5]


def test_shipped_data_files_load() -> None:
    assert len(default_catalogue(today=date(2026, 1, 10)).underlyings()) >= 40


# --- bad files ------------------------------------------------------------------------------

H = "conid,symbol,sec_type,reference_price"  # the shortest useful CSV header
TOML_A = '[[instrument]]\nconid = 1\nsymbol = "A"\nsec_type = "STK"\nreference_price = 1\n'
BAD_FILES = [
    (
        "instruments.csv",
        "conid,symbol,sec_type,min_tick,reference_price\n"
        "1,A,STK,0.01,1\n2,B,STK,0.01,1\n3,C,STK,0.01,1\n4,D,STK,0.01,1\n5,E,STK,0.01,1\n"
        "7,G,STK,abc,1\n",
        7,
        "min_tick must be a positive decimal, got 'abc'",
    ),
    ("cols.csv", "# header next\nconid,symbol,colour\n", 2, "unknown column 'colour'"),
    ("twice.csv", "conid,symbol,conid\n", 1, "column 'conid' appears twice"),
    ("cells.csv", f"{H}\n1,A,STK\n", 2, "row has 3 cells but the header has 4"),
    ("dup.csv", f"{H}\n1,A,STK,1\n\n1,B,STK,2\n", 4, "duplicate conid 1 (first used on line 2)"),
    ("quote.csv", f'{H}\n1,"A,STK,1\n', 2, "invalid CSV"),
    (
        "missing.csv",
        "conid,symbol,sec_type\n1,A,STK\n",
        2,
        "missing required field 'reference_price'",
    ),
    ("right.csv", f"{H},right\n1,A,STK,1,C\n", 2, "right is only valid for sec_type OPT, not STK"),
    (
        "opt.csv",
        f"{H},expiry,right\n1,A,OPT,1,20270115,C\n",
        2,
        "missing required field 'underlying_conid' for sec_type OPT",
    ),
    ("conid.csv", f"{H}\n-4,A,STK,1\n", 2, "conid must be a positive integer, got '-4'"),
    (
        "vol.csv",
        f"{H},volatility\n1,A,STK,1,nan\n",
        2,
        "volatility must be an annualised fraction in (0, 5], got 'nan'",
    ),
    (
        "type.csv",
        f"{H}\n1,A,BOND,1\n",
        2,
        "sec_type must be one of STK, FUT, OPT, CASH, IND, got 'BOND'",
    ),
    (
        "date.csv",
        f"{H},exchange,expiry\n1,A,FUT,1,CME,20270230\n",
        2,
        "expiry must be a date as YYYYMMDD, got '20270230'",
    ),
    ("exch.csv", f"{H}\n1,ZZ,IND,1\n", 2, "missing required field 'exchange' for sec_type IND"),
    ("cur.csv", f"{H},currency\n1,A,STK,1,US$\n", 2, "currency must be a three-letter code"),
    (
        "syntax.json",
        '[\n  {"conid": 1,\n   "symbol": "A",,\n}]',
        3,
        "invalid JSON: Expecting property name",
    ),
    (
        "entry.json",
        '[\n {"conid": 1, "symbol": "A", "sec_type": "STK", "reference_price": 1},\n\n'
        ' {"conid": 2, "symbol": "B", "exchange": "CME",\n'
        '  "sec_type": "FUT", "reference_price": 1, "expiry": "2027"}\n]',
        4,
        "expiry must be a date as YYYYMMDD, got '2027'",
    ),
    ("shape.json", '{"things": []}', 1, 'expected a list of instruments or {"instruments": [...]}'),
    ("scalar.json", '{"instruments": [\n 1]}', 2, "an instrument must be a table of fields, got 1"),
    (
        "bool.json",
        '[{"conid": true, "symbol": "A", "sec_type": "STK", "reference_price": 1}]',
        1,
        "conid must be a positive integer, got True",
    ),
    ("syntax.toml", "[[instrument]]\nconid = 1\nsymbol = A\n", 3, "invalid TOML: Invalid value"),
    (
        "field.toml",
        TOML_A
        + '\n[[instrument]]\nconid = 2\nsymbol = "B"\nsec_type = "STK"\nreference_price = 0\n',
        7,
        "reference_price must be a positive decimal, got 0",
    ),
    ("unknown.toml", TOML_A + 'colour = "red"\n', 1, "unknown field 'colour'"),
    (
        "top.toml",
        "[[instruments]]\nconid = 1\n",
        1,
        "unknown top-level key 'instruments'; use [[instrument]] tables",
    ),
]


@pytest.mark.parametrize(
    ("name", "text", "line", "reason"), BAD_FILES, ids=[case[0] for case in BAD_FILES]
)
def test_bad_files_name_the_file_line_and_reason(
    tmp_path: Path, name: str, text: str, line: int, reason: str
) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(CatalogueError) as raised:
        load_instruments(path)
    assert str(raised.value).startswith(f"{path}:{line}: {reason}")


def test_the_example_error_message_exactly(tmp_path: Path) -> None:
    name, text, _, _ = BAD_FILES[0]
    with pytest.raises(CatalogueError) as raised:
        parse_instruments(text, fmt="csv", source=name)
    assert str(raised.value) == "instruments.csv:7: min_tick must be a positive decimal, got 'abc'"


def test_non_utf8_bytes_are_reported_with_their_line(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(b"conid,symbol,sec_type,reference_price\n1,A,STK,1\n2,\xe9,STK,1\n")
    with pytest.raises(CatalogueError, match=re.escape(f"{path}:3: not UTF-8 text")):
        load_instruments(path)


def test_unsupported_extension_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match=r"unsupported catalogue format '\.xml'"):
        load_instruments(write(tmp_path, "a.xml", "<x/>"))
    with pytest.raises(CatalogueError, match=re.escape(f"{tmp_path / 'none.csv'}: cannot read")):
        load_instruments(tmp_path / "none.csv")


# --- merge ----------------------------------------------------------------------------------


def test_merge_extends_and_overrides_by_conid() -> None:
    base = Catalogue(EXPECTED)
    cheaper = replace(EXPECTED[0], reference_price=Decimal(9))
    added = replace(EXPECTED[0], conid=90000003, symbol="NEW")
    merged = merge(base, [cheaper, added], replace=False)
    assert [i.conid for i in merged] == [90000001, 90000002, 90000003]
    assert merged.get(90000001).reference_price == Decimal(9)
    assert base.get(90000001).reference_price == Decimal("12.34")


def test_merge_replace_keeps_only_the_extra_instruments() -> None:
    merged = merge(Catalogue(EXPECTED), [replace(EXPECTED[0], conid=5)], replace=True)
    assert [i.conid for i in merged] == [5]


def test_merge_rejects_duplicates_and_dangling_underlyings() -> None:
    with pytest.raises(CatalogueError, match="duplicate conid 90000001"):
        merge(Catalogue([]), [EXPECTED[0], EXPECTED[0]], replace=False)
    with pytest.raises(CatalogueError, match="underlying conid 90000001"):
        merge(Catalogue(EXPECTED), [EXPECTED[1]], replace=True)


# --- property tests -------------------------------------------------------------------------

TRICKY = st.sampled_from(
    ["", " ", "1", "0", "-1", "abc", "NaN", "sNaN", "inf", "1e999999", "1e-30", "0.5", "100",
     "9" * 30, "STK", "OPT", "FUT", "CASH", "IND", "C", "P", "put", "20270115", "20271301",
     "true", "yes", "maybe", "USD", "usd", "EURO", "٣", "１", "\x00", '"', "a\nb", "#x"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_csv_garbage_loads_or_raises_catalogue_error(text: str) -> None:
    with contextlib.suppress(CatalogueError):
        parse_instruments(text, fmt="csv", source="garbage.csv")


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(FIELDS), min_size=1, max_size=8, unique=True),
    st.lists(st.lists(TRICKY, min_size=8, max_size=8), max_size=4),
)
def test_csv_with_known_columns_and_tricky_cells_loads_or_raises(
    columns: list[str], rows: list[list[str]]
) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    writer.writerows(row[: len(columns)] for row in rows)
    try:
        instruments = parse_instruments(buffer.getvalue(), fmt="csv", source="tricky.csv")
    except CatalogueError as exc:
        assert str(exc).startswith("tricky.csv:")
    else:
        assert all(i.reference_price > 0 and i.min_tick > 0 for i in instruments)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200), st.sampled_from(["json", "toml"]))
def test_json_and_toml_garbage_loads_or_raises_catalogue_error(text: str, fmt: str) -> None:
    with contextlib.suppress(CatalogueError):
        parse_instruments(text, fmt=fmt, source="garbage")


def test_an_instrument_can_pin_its_simulated_rate(tmp_path: Path) -> None:
    path = tmp_path / "hot.csv"
    path.write_text(
        "conid,symbol,sec_type,reference_price,ticks_per_second\n90000001,HOT,STK,10,50\n"
        "90000002,COLD,STK,10,-1\n"
    )
    with pytest.raises(CatalogueError, match=r"hot.csv:3: ticks_per_second must be a rate"):
        load_instruments(path)
    path.write_text(
        "conid,symbol,sec_type,reference_price,ticks_per_second\n90000001,HOT,STK,10,50\n"
    )
    assert load_instruments(path)[0].ticks_per_second == 50.0
