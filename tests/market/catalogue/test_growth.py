"""A catalogue that grows while running: `Catalogue.add`, its checks, listeners and layers."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal

import pytest
from tests.instruments import option, stock

from tickgate.errors import CatalogueError
from tickgate.market.catalogue.catalogue import Catalogue, default_catalogue, merge
from tickgate.model.instruments import Instrument

ACME = stock(1_900_000_001, "ACME", "ACME WIDGETS INC", price="42.00")
ACME_CALL = option(
    ACME, conid=1_900_000_002, expiry="20270115", strike=40, price="2.10", volatility=0.4
)


def growable() -> Catalogue:
    return Catalogue([stock()], growable=True)


def test_a_catalogue_is_frozen_unless_built_growable() -> None:
    frozen = Catalogue([stock()])
    with pytest.raises(CatalogueError, match="frozen"):
        frozen.add([ACME])
    assert ACME.conid not in frozen and frozen.version == 0
    assert not default_catalogue(today=date(2026, 1, 10)).growable


def test_added_instruments_are_found_searched_and_indexed() -> None:
    catalogue = growable()
    assert catalogue.add([ACME, ACME_CALL]) == (ACME, ACME_CALL)
    assert catalogue.get(ACME.conid) is ACME and len(catalogue) == 3
    assert catalogue.search("ACM") == [ACME]
    assert catalogue.search("widgets", by_name=True) == [ACME]
    assert catalogue.stocks_by_symbol("ACME") == [ACME]
    assert catalogue.option_months(ACME.conid) == ["JAN27"]
    assert catalogue.options(ACME.conid, strike=Decimal(40)) == [ACME_CALL]
    assert catalogue.version == 1


def test_added_instruments_are_layered_and_the_core_stays_as_built() -> None:
    catalogue = growable()
    catalogue.add([ACME])
    assert catalogue.core() == [stock()]
    assert catalogue.layered() == [ACME]
    assert catalogue.is_layered(ACME.conid) and not catalogue.is_layered(stock().conid)


def test_listeners_hear_each_batch_once_in_order_after_it_is_in() -> None:
    catalogue = growable()
    heard: list[tuple[str, tuple[Instrument, ...], bool]] = []
    catalogue.add_listener(lambda batch: heard.append(("first", batch, ACME.conid in catalogue)))
    catalogue.add_listener(lambda batch: heard.append(("second", batch, True)))
    catalogue.add([ACME])
    assert heard == [("first", (ACME,), True), ("second", (ACME,), True)]
    catalogue.add([])  # nothing to tell
    assert len(heard) == 2 and catalogue.version == 1


def test_a_failing_listener_neither_undoes_the_add_nor_silences_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    catalogue = growable()
    heard: list[int] = []

    def broken(_batch: tuple[Instrument, ...]) -> None:
        raise RuntimeError("boom")

    catalogue.add_listener(broken)
    catalogue.add_listener(lambda batch: heard.extend(i.conid for i in batch))
    catalogue.add([ACME])
    assert heard == [ACME.conid] and ACME.conid in catalogue
    assert "catalogue listener failed" in caplog.text


@pytest.mark.parametrize(
    ("batch", "reason"),
    [
        ([stock()], "265598 .* already in use"),
        ([ACME, dataclasses.replace(ACME, symbol="ACME2")], "already in use"),
        ([ACME_CALL], "names underlying conid 1900000001"),
        ([dataclasses.replace(ACME, conid=0)], r"conid must be in 1\.\.2147483647"),
        ([dataclasses.replace(ACME, conid=2**31)], "conid must be in"),
        ([dataclasses.replace(ACME, symbol=" ")], "symbol must be printable"),
        ([dataclasses.replace(ACME, reference_price=Decimal(0))], "must be positive"),
        ([dataclasses.replace(ACME, min_tick=Decimal(-1))], "must be positive"),
        ([dataclasses.replace(ACME, volatility=-0.1)], r"volatility .* \(0, 5\]"),
        ([dataclasses.replace(ACME, volatility=6.0)], r"volatility .* \(0, 5\]"),
        ([ACME, dataclasses.replace(ACME_CALL, strike=None)], "needs its contract fields"),
    ],
)
def test_a_bad_batch_changes_nothing(batch: list[Instrument], reason: str) -> None:
    catalogue = growable()
    heard: list[object] = []
    catalogue.add_listener(heard.append)
    with pytest.raises(CatalogueError, match=reason):
        catalogue.add(batch)
    assert list(catalogue) == [stock()] and catalogue.version == 0 and heard == []
    assert catalogue.search("ACME") == []


def test_merge_keeps_layers_and_growth() -> None:
    catalogue = Catalogue([stock()], layered=[ACME], growable=True)
    override = dataclasses.replace(ACME, reference_price=Decimal("50"))
    other = stock(1_900_000_009, "ZZZ")
    extended = merge(catalogue, [other], replace=False)
    assert extended.growable and extended.layered() == [ACME]
    assert extended.core() == [stock(), other]
    promoted = merge(catalogue, [override], replace=False)
    assert promoted.layered() == [] and promoted.core() == [stock(), override]
    assert merge(catalogue, [other], replace=True).layered() == []
