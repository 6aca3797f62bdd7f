"""The allocation split: IBKR's documented examples, its rounding, and its invariants."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tickgate.errors import RequestError
from tickgate.trading.allocation import (
    AccountFunds,
    AllocationMethod,
    Member,
    method_of,
    split,
    split_closing_first,
)

M = AllocationMethod


def members(*amounts: int | None) -> list[Member]:
    return [Member(f"DU{i}", None if a is None else Decimal(a)) for i, a in enumerate(amounts, 1)]


def no_funds(account: str) -> AccountFunds:
    raise AssertionError(f"the method should not weigh {account}'s funds")


def quantities(result: list[tuple[str, Decimal]]) -> list[int]:
    return [int(q) for _, q in result]


def test_equal_gives_the_remainder_one_unit_each_in_the_group_s_order() -> None:
    # IBKR: 400 shares over six accounts: 66 each, then one each until all are given.
    result = split(Decimal(400), M.EQUAL, members(*[None] * 6), funds=no_funds)
    assert quantities(result) == [67, 67, 67, 67, 66, 66]
    assert (
        quantities(split(Decimal(400), M.EQUAL, members(*[None] * 4), funds=no_funds)) == [100] * 4
    )


def test_ratios_and_percentages_follow_ibkr_s_examples() -> None:
    assert quantities(split(Decimal(1000), M.RATIOS, members(4, 2, 1, 1), funds=no_funds)) == [
        500,
        250,
        125,
        125,
    ]
    assert (
        quantities(split(Decimal(1000), M.PERCENTAGES, members(25, 25, 25, 25), funds=no_funds))
        == [250] * 4
    )


def test_net_liquidation_and_available_equity_weigh_the_accounts_figures() -> None:
    figures = {
        "DU1": AccountFunds(Decimal(25_000), Decimal(100_000)),
        "DU2": AccountFunds(Decimal(50_000), Decimal(50_000)),
        "DU3": AccountFunds(Decimal(100_000), Decimal(25_000)),
    }
    group = members(None, None, None)
    # IBKR: 700 shares at net liquidation 25k/50k/100k is a 1:2:4 ratio.
    assert quantities(split(Decimal(700), M.NET_LIQUIDATION, group, funds=figures.__getitem__)) == [
        100,
        200,
        400,
    ]
    by_equity = split(Decimal(700), M.AVAILABLE_EQUITY, group, funds=figures.__getitem__)
    assert quantities(by_equity) == [400, 200, 100]


def test_largest_fractional_parts_get_the_units_left_over() -> None:
    # 10 at 1:1:1 -> 3.33 each: one unit left, to the first (ties keep the order).
    assert quantities(split(Decimal(10), M.RATIOS, members(1, 1, 1), funds=no_funds)) == [4, 3, 3]
    # 10 at 1:2:7 -> 1, 2, 7 exactly; 11 -> 1.1, 2.2, 7.7: the unit goes to the 0.7.
    assert quantities(split(Decimal(11), M.RATIOS, members(1, 2, 7), funds=no_funds)) == [1, 2, 8]


def test_an_account_whose_share_rounds_to_nothing_gets_no_order() -> None:
    result = split(Decimal(2), M.EQUAL, members(None, None, None), funds=no_funds)
    assert result == [("DU1", Decimal(1)), ("DU2", Decimal(1))]


def test_shares_and_cash_quantity_use_each_account_s_amount() -> None:
    shares = split(Decimal(1), M.SHARES, members(4, 1, 0), funds=no_funds)
    assert shares == [("DU1", Decimal(4)), ("DU2", Decimal(1))]  # the order's size is the sum
    cash = split(
        Decimal(1), M.CASH_QUANTITY, members(1000, 250, 99), funds=no_funds, price=Decimal("99.5")
    )
    assert cash == [("DU1", Decimal(10)), ("DU2", Decimal(2))]  # rounded down; 99 buys none
    futures = split(
        Decimal(1), M.CASH_QUANTITY, members(100_000), funds=no_funds, price=Decimal(4000),
        multiplier=5,
    )  # fmt: skip
    assert futures == [("DU1", Decimal(5))]


@pytest.mark.parametrize(
    ("method", "group", "words"),
    [
        (M.RATIOS, members(1, None), "needs an amount for DU2"),
        (M.RATIOS, members(0, 0), "weighs nothing"),
        (M.CASH_QUANTITY, members(100), "needs a price"),
    ],
)
def test_impossible_splits_say_why(
    method: AllocationMethod, group: list[Member], words: str
) -> None:
    with pytest.raises(RequestError, match=words):
        split(Decimal(10), method, group, funds=no_funds)


def test_a_fractional_quantity_is_refused() -> None:
    with pytest.raises(RequestError, match="whole, positive quantity"):
        split(Decimal("1.5"), M.EQUAL, members(None), funds=no_funds)


def test_methods_are_read_by_code_and_by_name() -> None:
    assert method_of("N", "m") is M.NET_LIQUIDATION
    assert method_of(" availableEquity ", "m") is M.AVAILABLE_EQUITY
    assert method_of("EqualQuantity", "m") is M.EQUAL
    with pytest.raises(RequestError, match="Invalid m: 'Q'"):
        method_of("Q", "m")
    with pytest.raises(RequestError):
        method_of(3, "m")


@given(
    quantity=st.integers(1, 10**6),
    weights=st.lists(st.integers(0, 10**6), min_size=1, max_size=12).filter(any),
)
def test_a_ratio_split_gives_exactly_the_quantity_within_one_unit_of_each_exact_share(
    quantity: int, weights: list[int]
) -> None:
    group = members(*weights)
    result = dict(split(Decimal(quantity), M.RATIOS, group, funds=no_funds))
    assert sum(result.values()) == quantity
    total = sum(weights)
    for member, weight in zip(group, weights, strict=True):
        exact = Decimal(quantity) * weight / total
        assert abs(result.get(member.account, Decimal(0)) - exact) < 1


def equal_over(accounts: list[str]) -> Callable[[Decimal], list[tuple[str, Decimal]]]:
    group = [Member(a) for a in accounts]
    return lambda q: split(q, M.EQUAL, group, funds=no_funds)


def test_closing_first_sells_the_longs_in_proportion_and_never_beyond_them() -> None:
    accounts = ["DU1", "DU2", "DU3"]
    held = {"DU1": Decimal(300), "DU2": Decimal(100), "DU3": Decimal(-50)}
    result = split_closing_first(Decimal(200), -1, held, accounts, equal_over(accounts))
    assert result == [("DU1", Decimal(150)), ("DU2", Decimal(50))]  # 3:1, DU3 is short
    # More than the longs hold: both close, the 100 left are split equally over all three.
    result = split_closing_first(Decimal(500), -1, held, accounts, equal_over(accounts))
    assert result == [("DU1", Decimal(334)), ("DU2", Decimal(133)), ("DU3", Decimal(33))]
    # A buy closes the short first.
    result = split_closing_first(Decimal(20), 1, held, accounts, equal_over(accounts))
    assert result == [("DU3", Decimal(20))]
    assert (
        split_closing_first(Decimal(20), 1, {"DU1": Decimal(5)}, accounts, equal_over(accounts))
        is None
    )


@given(
    quantity=st.integers(1, 10**5),
    positions=st.lists(st.integers(-(10**4), 10**4), min_size=1, max_size=8),
)
def test_closing_first_gives_the_whole_quantity_and_closes_before_it_opens(
    quantity: int, positions: list[int]
) -> None:
    accounts = [f"DU{i}" for i in range(len(positions))]
    held = {a: Decimal(p) for a, p in zip(accounts, positions, strict=True)}
    result = split_closing_first(Decimal(quantity), -1, held, accounts, equal_over(accounts))
    longs = sum(p for p in positions if p > 0)
    if longs == 0:
        assert result is None
        return
    assert result is not None
    given_out = dict(result)
    assert sum(given_out.values()) == quantity
    for account, position in held.items():
        share = given_out.get(account, Decimal(0))
        if quantity <= longs:
            assert share <= max(position, Decimal(0))  # only longs, none beyond its position
        elif position > 0:
            assert share >= position  # every long closed before anything opens
