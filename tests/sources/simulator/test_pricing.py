"""Black–Scholes values and greeks, expiries and futures carry."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tickgate.sources.simulator.pricing import (
    CARRY,
    NS_PER_YEAR,
    black_scholes,
    expiry_ns,
    futures_price,
    years_between,
)


def test_textbook_values() -> None:
    # Hull's classic example: S=K=100, T=1, sigma=20%, r=5%.
    call = black_scholes(100.0, 100.0, 1.0, 0.2, call=True, rate=0.05)
    put = black_scholes(100.0, 100.0, 1.0, 0.2, call=False, rate=0.05)
    assert call.price == pytest.approx(10.4506, abs=1e-4)
    assert put.price == pytest.approx(5.5735, abs=1e-4)
    assert call.delta == pytest.approx(0.6368, abs=1e-4)
    assert put.delta == pytest.approx(-0.3632, abs=1e-4)
    assert call.gamma == put.gamma == pytest.approx(0.018762, abs=1e-6)
    assert call.vega == pytest.approx(0.37524, abs=1e-5)  # per volatility point


spots = st.floats(min_value=1.0, max_value=5000.0)
moneyness = st.floats(min_value=0.5, max_value=2.0)
years = st.floats(min_value=1 / 365, max_value=3.0)
vols = st.floats(min_value=0.05, max_value=1.5)


@given(spots, moneyness, years, vols)
def test_put_call_parity(spot: float, m: float, t: float, vol: float) -> None:
    strike = spot * m
    call = black_scholes(spot, strike, t, vol, call=True)
    put = black_scholes(spot, strike, t, vol, call=False)
    assert call.price - put.price == pytest.approx(
        spot - strike * math.exp(-0.04 * t), abs=1e-6 * spot
    )
    assert call.delta - put.delta == pytest.approx(1.0)


@given(spots, moneyness, years, vols)
def test_greeks_match_finite_differences(spot: float, m: float, t: float, vol: float) -> None:
    strike, h = spot * m, spot * 1e-4
    for call in (True, False):
        value = black_scholes(spot, strike, t, vol, call=call)
        up = black_scholes(spot + h, strike, t, vol, call=call)
        down = black_scholes(spot - h, strike, t, vol, call=call)
        assert value.delta == pytest.approx((up.price - down.price) / (2 * h), abs=1e-4)
        assert value.gamma == pytest.approx(
            (up.delta - down.delta) / (2 * h), rel=1e-2, abs=1e-6 / spot
        )
        bumped = black_scholes(spot, strike, t, vol + 1e-4, call=call)
        assert value.vega == pytest.approx(
            (bumped.price - value.price) / 1e-2, rel=1e-2, abs=1e-6 * spot
        )
        dt = t * 1e-3
        sooner = black_scholes(spot, strike, t - dt, vol, call=call)
        later = black_scholes(spot, strike, t + dt, vol, call=call)
        per_day = (sooner.price - later.price) / (2 * dt * 365)
        assert value.theta == pytest.approx(per_day, rel=1e-2, abs=1e-6 * spot)


@given(spots, moneyness, years, vols)
def test_calls_rise_and_puts_fall_with_the_underlying(
    spot: float, m: float, t: float, vol: float
) -> None:
    strike = spot * m
    assert (
        black_scholes(spot * 1.01, strike, t, vol, call=True).price
        >= black_scholes(spot, strike, t, vol, call=True).price
    )
    assert (
        black_scholes(spot * 1.01, strike, t, vol, call=False).price
        <= black_scholes(spot, strike, t, vol, call=False).price
    )


def test_expired_options_are_worth_their_intrinsic_value() -> None:
    assert black_scholes(110.0, 100.0, 0.0, 0.3, call=True).price == 10.0
    assert black_scholes(110.0, 100.0, 0.0, 0.3, call=True).delta == 1.0
    assert black_scholes(110.0, 100.0, 0.0, 0.3, call=False).price == 0.0
    assert black_scholes(90.0, 100.0, -1.0, 0.3, call=False).delta == -1.0


def test_expiry_and_time() -> None:
    assert expiry_ns("20260116") == 1_768_597_200_000_000_000  # 2026-01-16T21:00:00Z
    with pytest.raises(ValueError):
        expiry_ns("2026-01-16")
    assert years_between(0, NS_PER_YEAR // 2) == 0.5
    assert years_between(10, 0) == 0.0


def test_futures_carry_a_small_positive_basis() -> None:
    assert futures_price(5000.0, 0.25) == pytest.approx(5000.0 * math.exp(CARRY * 0.25))
    assert futures_price(5000.0, 0.0) == 5000.0
    assert 0 < futures_price(5000.0, 0.25) / 5000.0 - 1 < 0.01
