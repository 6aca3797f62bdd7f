"""The built-in futures and option chains, generated relative to a trading date.

Conids of generated contracts are derived, not looked up, so they are the same in every process
and on every day for the same contract:

* futures: ``1_500_000_000 + slot * 10_000 + (year % 100) * 100 + contract month``
  (slots: ES 1, NQ 2, CL 3, GC 4);
* options: ``1_600_000_000 + slot * 14_640_000 + day * 4_000 + strike_units * 2 + right``
  where ``day = (year % 10) * 366 + day_of_year - 1``, ``strike_units = strike / unit`` (below
  2000: the unit is 0.5 for equity options, so strikes below 1000, and 5 for SPX, so strikes
  below 10000) and ``right`` is 0 for calls, 1 for puts (slots: AAPL 1, SPY 2, QQQ 3, SPX 4,
  SPXW 5; at most 36 so every conid stays below 2**31). A chain's weeklies share its slot:
  their expiry days differ from its monthlies'.

Real IBKR conids are below 1_000_000_000 today, so derived conids cannot collide with the
real conids of the shipped stocks, ETFs, FX pairs and indices. Option conids repeat only for
expiries ten years apart, which never coexist in one catalogue.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from tickgate.errors import CatalogueError
from tickgate.market.calendar import US_REGULAR
from tickgate.market.catalogue.expiries import (
    ExpiryRule,
    crude_oil_last_trade,
    expiries,
    gold_last_trade,
    third_friday,
)
from tickgate.model.instruments import Instrument, Right, SecType

FUTURE_BASE = 1_500_000_000
OPTION_BASE = 1_600_000_000
_OPTION_DAYS = 3_660
_STRIKE_SLOTS = 4_000
OPTION_BLOCK = _OPTION_DAYS * _STRIKE_SLOTS
_MAX_OPTION_SLOT = (2**31 - 1 - OPTION_BASE) // OPTION_BLOCK - 1
_CENT = Decimal("0.01")
_FRIDAY = 4


@dataclass(frozen=True, slots=True)
class FutureRoot:
    """One futures product: contract specs and its expiry cycle.

    `months` are the listed contract months; `month_offset` is how many months the contract
    month lies after the month of its last trading day (1 for CL, else 0); `carry` is the
    annual premium of the future over its underlying used for reference prices.
    """

    symbol: str
    name: str
    exchange: str
    multiplier: int
    min_tick: Decimal
    underlying_conid: int
    slot: int
    months: tuple[int, ...]
    rule: ExpiryRule
    count: int
    carry: float
    month_offset: int = 0


_QUARTERLY = (3, 6, 9, 12)
_ALL_MONTHS = tuple(range(1, 13))

_ROOT_LIST = (
    FutureRoot(
        symbol="ES", name="E-mini S&P 500", exchange="CME", multiplier=50,
        min_tick=Decimal("0.25"), underlying_conid=11004968, slot=1,
        months=_QUARTERLY, rule=third_friday, count=5, carry=0.04,
    ),
    FutureRoot(
        symbol="NQ", name="E-mini NASDAQ 100", exchange="CME", multiplier=20,
        min_tick=Decimal("0.25"), underlying_conid=11004958, slot=2,
        months=_QUARTERLY, rule=third_friday, count=5, carry=0.04,
    ),
    FutureRoot(
        symbol="CL", name="Light Sweet Crude Oil", exchange="NYMEX", multiplier=1000,
        min_tick=Decimal("0.01"), underlying_conid=17340715, slot=3,
        months=_ALL_MONTHS, rule=crude_oil_last_trade, count=12, carry=-0.03, month_offset=1,
    ),
    FutureRoot(
        symbol="GC", name="Gold", exchange="COMEX", multiplier=100,
        min_tick=Decimal("0.10"), underlying_conid=17340718, slot=4,
        months=(2, 4, 6, 8, 10, 12), rule=gold_last_trade, count=6, carry=0.045,
    ),
)  # fmt: skip
FUTURE_ROOTS: dict[str, FutureRoot] = {root.symbol: root for root in _ROOT_LIST}


@dataclass(frozen=True, slots=True)
class OptionChain:
    """One series of options on an underlying: the strike ladder (`near_step` within
    ±`near_pct` of the reference price, `far_step` out to ±`far_pct`) at `count` expiries of
    its `cycle`: ``monthly`` (third Fridays), ``weekly`` (the other Fridays) or ``fridays``
    (every Friday); an expiry Friday that is an exchange holiday moves to the trading day
    before. `trading_class` defaults to the symbol; `strike_unit` is the grain of the conid
    scheme (see the module docstring)."""

    symbol: str
    slot: int
    near_step: Decimal
    near_pct: Decimal
    far_step: Decimal
    far_pct: Decimal
    count: int = 4
    cycle: str = "monthly"
    trading_class: str = ""
    strike_unit: Decimal = Decimal("0.5")


#: The option series of the built-in universe layer (see `catalogue.universe`): weeklies of the
#: ETF chains beside their monthlies, and SPX with its monthly SPX and weekly SPXW classes.
LAYERED_OPTION_CHAINS: tuple[OptionChain, ...] = (
    OptionChain("SPY", 2, Decimal(1), Decimal("0.05"), Decimal(1), Decimal("0.05"), cycle="weekly"),
    OptionChain("QQQ", 3, Decimal(1), Decimal("0.05"), Decimal(1), Decimal("0.05"), cycle="weekly"),
    OptionChain(
        "SPX", 4, Decimal(5), Decimal("0.03"), Decimal(50), Decimal("0.15"),
        strike_unit=Decimal(5),
    ),
    OptionChain(
        "SPX", 5, Decimal(5), Decimal("0.03"), Decimal(50), Decimal("0.15"), count=5,
        cycle="fridays", trading_class="SPXW", strike_unit=Decimal(5),
    ),
)  # fmt: skip

OPTION_CHAINS: dict[str, OptionChain] = {
    chain.symbol: chain
    for chain in (
        OptionChain("AAPL", 1, Decimal(5), Decimal("0.20"), Decimal(5), Decimal("0.20")),
        OptionChain("SPY", 2, Decimal(1), Decimal("0.05"), Decimal(5), Decimal("0.20")),
        OptionChain("QQQ", 3, Decimal(1), Decimal("0.05"), Decimal(5), Decimal("0.20")),
    )
}


def future_conid(root: FutureRoot, year: int, month: int) -> int:
    """Stable conid of the `root` contract for contract month (`year`, `month`)."""
    return FUTURE_BASE + root.slot * 10_000 + (year % 100) * 100 + month


def option_conid(
    slot: int, expiry: date, strike: Decimal, right: Right, *, unit: Decimal = Decimal("0.5")
) -> int:
    """Stable conid of one option. Raises CatalogueError for a strike the scheme cannot hold
    (not a multiple of `unit`, or 2000 units and above) or a slot outside 1..36."""
    units = strike / unit
    if units != units.to_integral_value() or not 0 < units < _STRIKE_SLOTS // 2:
        raise CatalogueError(f"strike {strike} cannot be given a derived conid")
    if not 1 <= slot <= _MAX_OPTION_SLOT:
        raise CatalogueError(f"option slot {slot} is outside 1..{_MAX_OPTION_SLOT}")
    day = (expiry.year % 10) * 366 + expiry.timetuple().tm_yday - 1
    offset = day * _STRIKE_SLOTS + int(units) * 2 + (right is Right.PUT)
    return OPTION_BASE + slot * OPTION_BLOCK + offset


def _years_between(today: date, expiry: date) -> float:
    # At least one day, so an option on its last day still has a little time value.
    return max((expiry - today).days, 1) / 365.0


def future_chain(root: FutureRoot, underlying: Instrument, *, today: date) -> list[Instrument]:
    """The next `root.count` contracts of `root`, priced off `underlying` plus carry."""
    chain = []
    for year, month, last in expiries(root.rule, root.months, today=today, count=root.count):
        years = _years_between(today, last)
        price = float(underlying.reference_price) * (1.0 + root.carry * years)
        chain.append(
            Instrument(
                conid=future_conid(root, year, month),
                symbol=root.symbol,
                name=root.name,
                sec_type=SecType.FUT,
                exchange=root.exchange,
                currency=underlying.currency,
                min_tick=root.min_tick,
                reference_price=_round_to(Decimal(str(price)), root.min_tick),
                volatility=underlying.volatility,
                multiplier=root.multiplier,
                listing_exchange=root.exchange,
                underlying_conid=underlying.conid,
                expiry=last.strftime("%Y%m%d"),
                trading_class=root.symbol,
            )
        )
    return chain


def _round_to(value: Decimal, step: Decimal) -> Decimal:
    return ((value / step).to_integral_value() * step).quantize(step)


def strike_ladder(chain: OptionChain, spot: Decimal) -> list[Decimal]:
    """Sorted strikes: multiples of each band's step inside that band around `spot`."""
    strikes: set[Decimal] = set()
    for step, pct in ((chain.near_step, chain.near_pct), (chain.far_step, chain.far_pct)):
        low = (spot * (1 - pct) / step).to_integral_value(ROUND_CEILING) * step
        high = (spot * (1 + pct) / step).to_integral_value(ROUND_FLOOR) * step
        strike = low
        while strike <= high:
            strikes.add(strike.quantize(Decimal("0.1")))
            strike += step
    return sorted(s for s in strikes if s > 0)


def implied_vol(base: float, spot: Decimal, strike: Decimal) -> float:
    """A put-skewed smile: `base` at the money, higher below it, lower above, within
    [base / 2, 2 * base]."""
    skewed = base - 0.2 * math.log(float(strike / spot))
    return round(min(max(skewed, base / 2), base * 2), 4)


def option_value(spot: Decimal, strike: Decimal, vol: float, years: float, right: Right) -> Decimal:
    """Zero-rate Black–Scholes value, on the cent grid, at least one cent."""
    s, k = float(spot), float(strike)
    width = vol * math.sqrt(years)
    d1 = (math.log(s / k) + width * width / 2) / width
    d2 = d1 - width
    call = s * _normal_cdf(d1) - k * _normal_cdf(d2)
    value = call if right is Right.CALL else call - s + k  # put-call parity at zero rates
    return max(_round_to(Decimal(str(value)), _CENT), _CENT)


def _normal_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def option_chain(chain: OptionChain, underlying: Instrument, *, today: date) -> list[Instrument]:
    """The chain's expiries (see `OptionChain`) × strike ladder × call/put on `underlying`.

    `reference_price` is the zero-rate Black–Scholes value at the underlying's reference price
    as of `today`, only a starting point (the simulator prices options itself); `volatility`
    is the implied volatility of `implied_vol`. Raises CatalogueError for an unknown cycle.
    """
    spot = underlying.reference_price
    return [
        _option(chain, underlying, last, strike, right, today)
        for last in chain_expiries(chain, today=today)
        for strike in strike_ladder(chain, spot)
        for right in (Right.CALL, Right.PUT)
    ]


def chain_expiries(chain: OptionChain, *, today: date) -> list[date]:
    """The next `chain.count` expiry days of the chain's cycle, on or after `today`, sorted.
    Raises CatalogueError for an unknown cycle."""
    if chain.cycle == "monthly":
        found = expiries(third_friday, _ALL_MONTHS, today=today, count=chain.count)
        return [last for _, _, last in found]
    if chain.cycle not in ("weekly", "fridays"):
        raise CatalogueError(f"unknown option cycle {chain.cycle!r}")
    days: list[date] = []
    friday = today + timedelta(days=(_FRIDAY - today.weekday()) % 7)
    while len(days) < chain.count:
        monthly = friday == third_friday(friday.year, friday.month)
        if chain.cycle == "fridays" or not monthly:
            last = _equity_trading_day_on_or_before(friday)
            if last >= today:
                days.append(last)
        friday += timedelta(weeks=1)
    return days


def _equity_trading_day_on_or_before(day: date) -> date:
    # Good Friday and a Friday Independence Day or Christmas move the expiry a day earlier.
    while not US_REGULAR.is_trading_day(day):
        day -= timedelta(days=1)
    return day


def _option(
    chain: OptionChain,
    underlying: Instrument,
    last: date,
    strike: Decimal,
    right: Right,
    today: date,
) -> Instrument:
    vol = implied_vol(underlying.volatility, underlying.reference_price, strike)
    years = _years_between(today, last)
    return Instrument(
        conid=option_conid(chain.slot, last, strike, right, unit=chain.strike_unit),
        symbol=underlying.symbol,
        name=underlying.name,
        sec_type=SecType.OPT,
        exchange="SMART",
        currency=underlying.currency,
        min_tick=_CENT,
        reference_price=option_value(underlying.reference_price, strike, vol, years, right),
        volatility=vol,
        multiplier=100,
        underlying_conid=underlying.conid,
        expiry=last.strftime("%Y%m%d"),
        strike=strike,
        right=right,
        trading_class=chain.trading_class or underlying.symbol,
    )
