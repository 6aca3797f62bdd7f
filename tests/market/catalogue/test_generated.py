"""Generated stocks: conids from the symbol alone, plausible prices, creation on first search."""

from __future__ import annotations

import dataclasses
import logging
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.instruments import EURUSD, stock

from tickgate.errors import CatalogueError
from tickgate.market.catalogue.auto import ensure_listed, resolve_generated
from tickgate.market.catalogue.catalogue import Catalogue
from tickgate.market.catalogue.chains import FUTURE_BASE
from tickgate.market.catalogue.generated import (
    GENERATED_BASE,
    GENERATED_LIMIT,
    auto_stock,
    generated_conid,
    ibkr_symbol,
    plausible_price,
    plausible_volatility,
    symbol_of,
)
from tickgate.model.instruments import SecType

EURUSD_PAIR = dataclasses.replace(EURUSD, symbol="EUR.USD")
TICKERS = st.from_regex(r"[A-Z][A-Z0-9]{0,4}|[A-Z]{1,3} [A-Z]", fullmatch=True)


def test_conids_are_fixed_numbers_of_the_symbol() -> None:
    # Pinned: a conid that moved would orphan every order and watchlist row that names it.
    assert generated_conid("A") == GENERATED_BASE + 12
    assert generated_conid("AB") == GENERATED_BASE + 12 + 13 * 38
    assert generated_conid("BRK B") == 1_227_194_523
    assert GENERATED_LIMIT == 1_279_235_168 and GENERATED_LIMIT < FUTURE_BASE


@given(TICKERS, TICKERS)
def test_different_symbols_never_share_a_conid(one: str, other: str) -> None:
    assert (generated_conid(one) == generated_conid(other)) == (one == other)
    assert GENERATED_BASE < generated_conid(one) < GENERATED_LIMIT


@pytest.mark.parametrize(
    ("text", "symbol"),
    [("aapl", "AAPL"), (" brk.b ", "BRK B"), ("BF/B", "BF B"), ("X", "X"), ("ZZZZ9", "ZZZZ9")],
)
def test_tickers_are_written_as_ibkr_writes_them(text: str, symbol: str) -> None:
    assert ibkr_symbol(text) == symbol


@pytest.mark.parametrize("text", ["", "TOOLONG", "9AB", "EUR.USD", "A-B", "ABCD E", "Ä"])
def test_other_texts_are_not_tickers(text: str) -> None:
    assert ibkr_symbol(text) is None and auto_stock(text) is None
    with pytest.raises(ValueError, match="not a ticker"):
        generated_conid(text)


def test_prices_and_volatilities_are_plausible_and_stable() -> None:
    prices = [plausible_price(f"S{n}") for n in range(500)]
    assert all(Decimal(10) <= p < Decimal(400) and p == p.quantize(Decimal("0.01")) for p in prices)
    assert len(set(prices)) > 450 and min(prices) < 20 and max(prices) > 300
    assert all(0.20 <= plausible_volatility(f"S{n}") <= 0.50 for n in range(500))
    assert plausible_price("XYZ") == plausible_price("XYZ") == Decimal("103.88")


def test_an_auto_stock_says_it_is_simulated() -> None:
    made = auto_stock("xyz")
    assert made is not None
    assert (made.symbol, made.name, made.sec_type, made.listing_exchange) == (
        "XYZ", "XYZ (SIMULATED)", SecType.STK, "NYSE",
    )  # fmt: skip
    assert made.conid == generated_conid("XYZ") and made.is_us
    assert auto_stock("WXYZ") is not None and auto_stock("WXYZ").listing_exchange == "NASDAQ"  # type: ignore[union-attr]


def test_ensure_listed_adds_an_unknown_ticker_once() -> None:
    catalogue = Catalogue([stock()], growable=True)
    made = ensure_listed(catalogue, "xyz")
    assert made is not None and catalogue.find(made.conid) is made
    assert catalogue.is_layered(made.conid)
    assert ensure_listed(catalogue, "XYZ") is None and catalogue.version == 1


@pytest.mark.parametrize("text", ["AAPL", "EUR", "AAPL.X.Y", "not a ticker"])
def test_ensure_listed_leaves_known_names_and_non_tickers(text: str) -> None:
    catalogue = Catalogue([stock(), EURUSD_PAIR], growable=True)
    assert ensure_listed(catalogue, text) is None and catalogue.version == 0


def test_ensure_listed_never_adds_to_a_frozen_catalogue() -> None:
    assert ensure_listed(Catalogue([stock()]), "XYZ") is None


def test_a_generated_conid_taken_by_another_instrument_creates_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    squatter = stock(generated_conid("XYZ"), "OTHER")
    catalogue = Catalogue([squatter], growable=True)
    with caplog.at_level(logging.WARNING, logger="tickgate.catalogue"):
        assert ensure_listed(catalogue, "XYZ") is None
    assert "generated conid" in caplog.text and "OTHER" in caplog.text


@given(TICKERS)
def test_symbol_of_inverts_generated_conid(symbol: str) -> None:
    assert symbol_of(generated_conid(symbol)) == symbol


@pytest.mark.parametrize("conid", [265598, GENERATED_BASE, GENERATED_BASE + 38, GENERATED_LIMIT])
def test_symbol_of_other_conids_is_none(conid: int) -> None:
    assert symbol_of(conid) is None


def test_a_resolver_brings_back_a_generated_conid_when_it_is_looked_up() -> None:
    catalogue = Catalogue([stock()], growable=True)
    catalogue.set_resolver(lambda conid: resolve_generated(catalogue, conid))
    conid = generated_conid("ZQXW")
    assert conid not in catalogue  # membership never creates
    found = catalogue.get(conid)
    assert (found.symbol, found.conid) == ("ZQXW", conid) and catalogue.version == 1
    assert catalogue.find(generated_conid("AAPL")) is None  # AAPL has its real conid already
    assert catalogue.find(424242) is None and catalogue.version == 1


def test_a_frozen_catalogue_takes_no_resolver() -> None:
    with pytest.raises(CatalogueError, match="frozen"):
        Catalogue([stock()]).set_resolver(lambda conid: None)
