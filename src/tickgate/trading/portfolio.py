"""One account's positions, cash and P&L, driven only by fills, deposits and marks.

Cash is kept per currency (`CurrencyBook`): a fill settles in its instrument's currency, and a
currency conversion (an `isCcyConv` order on an FX pair) moves cash from the pair's quote
currency to its base currency (or back). Every figure of the account as a whole (cash, market
value, P&L, margins) is in the account's base currency, converted at the current rates of
`rates` (tickgate's simulated FX quotes); the books themselves never hold a converted amount,
so replaying the same fills gives the same books whatever the rates are at replay.

Bookkeeping keeps each position's *cost basis* (signed money paid for the open quantity) rather
than an average price, and subtracts exactly what it realizes, so these identities hold to the
last decimal digit at every moment, in each currency (and so for the account while every
currency it holds is its base currency):

    net liquidation = cash + market value
    realized + unrealized = net liquidation - deposits

Commissions are part of the P&L, as on IBKR: what a fill pays for opening a position goes into
its cost basis (so the average cost includes it and unrealized P&L is net of it), what it pays
for closing one is taken from the P&L it realizes.
    position quantity = sum of signed fill quantities

Margin model (simplified Reg-T, documented so nobody mistakes it for IBKR's): each position needs
an initial and a maintenance margin as a fraction of its absolute market value, by security type
(`MARGIN_RATES`: STK 50%/25%, OPT 100%/100%, FUT 10%/8%, CASH 5%/3%, IND 100%/100%).
Available funds = net liquidation - initial margin; excess liquidity = net liquidation -
maintenance margin; buying power = 2 x available funds (the Reg-T 2:1 of a margin account).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from tickgate.market.fx import pair_of
from tickgate.model.accounts import AccountConfig
from tickgate.model.instruments import Instrument, SecType
from tickgate.model.orders import Fill

ZERO = Decimal(0)
COST_QUANTUM = Decimal("1e-10")

MARGIN_RATES: dict[SecType, tuple[Decimal, Decimal]] = {
    SecType.STK: (Decimal("0.5"), Decimal("0.25")),
    SecType.OPT: (Decimal(1), Decimal(1)),
    SecType.FUT: (Decimal("0.1"), Decimal("0.08")),
    SecType.CASH: (Decimal("0.05"), Decimal("0.03")),
    SecType.IND: (Decimal(1), Decimal(1)),
}
REG_T_LEVERAGE = Decimal(2)


class Rates(Protocol):
    """Exchange rates between currencies (`tickgate.market.fx.FxRates` is one)."""

    def rate(self, source: str, target: str) -> Decimal | None:
        """Units of `target` one unit of `source` buys; None when nothing links the two."""
        ...


class SameCurrency:
    """The rates of an engine without FX quotes: a currency is worth itself, nothing else."""

    def rate(self, source: str, target: str) -> Decimal | None:
        return Decimal(1) if source == target else None


@dataclass(slots=True)
class CurrencyBook:
    """What one currency of an account holds and has paid and made, in that currency."""

    cash: Decimal = ZERO
    commissions: Decimal = ZERO
    realized: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class CurrencyLedger:
    """One currency's line of the ledger, in that currency; `exchange_rate` converts it to
    the account's base currency. Market values are split by kind as IBKR's ledger splits
    them: stocks (and everything not an option or future), options, futures."""

    currency: str
    exchange_rate: Decimal
    cash: Decimal
    commissions: Decimal
    realized: Decimal
    unrealized: Decimal
    stock_value: Decimal
    option_value: Decimal
    future_value: Decimal
    future_pnl: Decimal

    @property
    def market_value(self) -> Decimal:
        """Every position's value in this currency."""
        return self.stock_value + self.option_value + self.future_value

    @property
    def net_liquidation(self) -> Decimal:
        """Cash plus market value, in this currency."""
        return self.cash + self.market_value


def margin_cushion(net_liquidation: Decimal, excess_liquidity: Decimal) -> Decimal:
    """IBKR's margin cushion in percent: (equity with loan - maintenance margin) / net
    liquidation; equity with loan is the net liquidation here (nothing is lent), so it is
    excess liquidity over net liquidation. 0 when there is no net liquidation."""
    if net_liquidation <= 0:
        return ZERO
    return excess_liquidity / net_liquidation * 100


class Liquidity(Protocol):
    """The figures a margin cushion is computed from (a `Portfolio`, a `PnlChanged`)."""

    @property
    def net_liquidation(self) -> Decimal: ...
    @property
    def excess_liquidity(self) -> Decimal: ...


def margin_cushion_of(figures: Liquidity) -> Decimal:
    """`margin_cushion` of an account's figures."""
    return margin_cushion(figures.net_liquidation, figures.excess_liquidity)


def initial_margin_rate(sec_type: SecType) -> Decimal:
    """Initial margin as a fraction of absolute market value for `sec_type`."""
    return MARGIN_RATES[sec_type][0]


@dataclass(slots=True)
class Position:
    """An open (or flat, with history) position; `cost` is the signed cost basis in money."""

    conid: int
    sec_type: SecType
    multiplier: int
    quantity: Decimal = ZERO
    cost: Decimal = ZERO
    realized: Decimal = ZERO
    mark: Decimal = ZERO
    currency: str = "USD"  # the instrument's: its money (cost, value, P&L) is in it

    @property
    def avg_price(self) -> Decimal:
        """Average entry price per unit (0 when flat)."""
        if self.quantity == 0:
            return ZERO
        return self.cost / (self.quantity * self.multiplier)

    @property
    def market_value(self) -> Decimal:
        """Signed value at the current mark."""
        return self.quantity * self.mark * self.multiplier

    @property
    def unrealized(self) -> Decimal:
        """P&L of the open quantity at the current mark."""
        return self.market_value - self.cost

    def apply(self, signed_qty: Decimal, price: Decimal, commission: Decimal = ZERO) -> Decimal:
        """Book a trade of `signed_qty` at `price` paying `commission`; returns the P&L it
        realizes (net of the commission's closing share)."""
        realized = ZERO
        if self.quantity != 0 and (self.quantity > 0) != (signed_qty > 0):
            closed = min(abs(signed_qty), abs(self.quantity))
            direction = 1 if self.quantity > 0 else -1
            share = self.cost
            if closed != abs(self.quantity):
                # A fixed-point share of the basis keeps every later sum exact.
                share = (self.cost * closed / abs(self.quantity)).quantize(COST_QUANTUM)
            closing_fee = commission
            if closed != abs(signed_qty):
                closing_fee = (commission * closed / abs(signed_qty)).quantize(COST_QUANTUM)
            commission -= closing_fee
            realized = direction * closed * price * self.multiplier - share - closing_fee
            self.cost -= share
            self.quantity -= direction * closed
            signed_qty += direction * closed
        self.cost += signed_qty * price * self.multiplier + commission
        self.quantity += signed_qty
        self.realized += realized
        self.mark = price if self.mark == 0 else self.mark
        return realized


class Portfolio:
    """Cash and positions of one account. Not thread-safe; the trading engine owns it.

    `rates` converts the other currencies' amounts to the base currency; an amount in a
    currency `rates` cannot convert counts as nothing (placement refuses such currencies, so
    only a catalogue that lost a pair leaves one behind)."""

    def __init__(self, config: AccountConfig, rates: Rates | None = None) -> None:
        self.config = config
        self.rates: Rates = rates or SameCurrency()
        self.base = config.base_currency
        self.books: dict[str, CurrencyBook] = {self.base: CurrencyBook(config.starting_cash)}
        self.deposits = config.starting_cash
        self.positions: dict[int, Position] = {}
        self.session_open_net_liquidation = config.starting_cash

    def copy(self) -> Portfolio:
        """An independent copy of the books and positions, sharing the rates (what-if)."""
        twin = copy.copy(self)
        twin.books = copy.deepcopy(self.books)
        twin.positions = copy.deepcopy(self.positions)
        return twin

    def book(self, currency: str) -> CurrencyBook:
        """The book of `currency`, opened empty when the account never held it."""
        book = self.books.get(currency)
        if book is None:
            book = self.books[currency] = CurrencyBook()
        return book

    def apply_fill(
        self, fill: Fill, instrument: Instrument, *, conversion: bool = False
    ) -> Decimal:
        """Book a fill (cash, position, commission) in the instrument's currency; returns the
        P&L it realizes. A `conversion` fill on an FX pair moves cash between the pair's two
        currencies instead and opens no position (it realizes nothing)."""
        signed = fill.side.sign * fill.quantity
        pair = pair_of(instrument) if conversion else None
        if pair is not None:
            self.book(pair.base).cash += signed
            paying = self.book(pair.quote)
            paying.cash -= signed * fill.price + fill.commission
            paying.commissions += fill.commission
            return ZERO
        position = self.positions.get(fill.conid)
        if position is None:
            position = Position(fill.conid, instrument.sec_type, instrument.multiplier,
                                currency=instrument.currency)  # fmt: skip
            self.positions[fill.conid] = position
        realized = position.apply(signed, fill.price, fill.commission)
        book = self.book(position.currency)
        book.cash -= signed * fill.price * instrument.multiplier + fill.commission
        book.commissions += fill.commission
        book.realized += realized
        return realized

    def mark(self, conid: int, price: Decimal) -> bool:
        """Value the position in `conid` at `price`; True when that changed anything."""
        position = self.positions.get(conid)
        if position is None or price <= 0 or position.mark == price:
            return False
        position.mark = price
        return position.quantity != 0

    def open_session(self) -> None:
        """Start a new trading day: daily P&L is measured from the net liquidation now."""
        self.session_open_net_liquidation = self.net_liquidation

    # ---- conversion -----------------------------------------------------------------------

    def exchange_rate(self, currency: str) -> Decimal:
        """Units of the base currency one unit of `currency` is worth now (0 when unknown)."""
        if currency == self.base:
            return Decimal(1)
        rate = self.rates.rate(currency, self.base)
        return ZERO if rate is None else rate

    def in_base(self, amount: Decimal, currency: str) -> Decimal:
        """`amount` of `currency` in the base currency at the current rate."""
        if currency == self.base or amount == 0:
            return amount
        return amount * self.exchange_rate(currency)

    # ---- figures --------------------------------------------------------------------------

    def snapshot(self) -> Figures:
        """Every figure of the account now, from one pass over the positions: each currency's
        sums in that currency, converted once at its rate (so every figure, here and in a
        `PnlChanged`, is the same number)."""
        tallies: dict[str, _Tally] = {}
        for p in self.positions.values():
            if p.quantity == 0:
                continue  # a flat position's value and unrealized P&L are exactly 0
            tally = tallies.get(p.currency)
            if tally is None:
                tally = tallies[p.currency] = _Tally()
            tally.add(p)
        names = [self.base, *sorted((set(self.books) | set(tallies)) - {self.base})]
        lines = []
        total = _Tally()
        cash = commissions = realized = ZERO
        for ccy in names:
            book = self.books.get(ccy) or CurrencyBook()
            tally = tallies.get(ccy) or _Tally()
            rate = self.exchange_rate(ccy)
            lines.append(tally.line(ccy, rate, book))
            if ccy == self.base:
                rate = Decimal(1)
            cash += book.cash * rate
            commissions += book.commissions * rate
            realized += book.realized * rate
            total.merge(tally, rate)
        return Figures(
            cash=cash, commissions=commissions, realized=realized, unrealized=total.unrealized,
            market_value=total.market_value, gross_position_value=total.gross,
            initial_margin=total.initial, maintenance_margin=total.maintenance,
            currencies=tuple(lines),
        )  # fmt: skip

    @property
    def cash(self) -> Decimal:
        """Cash of every currency, in the base currency."""
        return self.snapshot().cash

    @property
    def commissions(self) -> Decimal:
        """Commissions paid in every currency, in the base currency at today's rates."""
        return self.snapshot().commissions

    @property
    def realized(self) -> Decimal:
        """P&L realized in every currency, in the base currency at today's rates."""
        return self.snapshot().realized

    @property
    def market_value(self) -> Decimal:
        """Sum of the signed market values of all positions."""
        return self.snapshot().market_value

    @property
    def unrealized(self) -> Decimal:
        """Unrealized P&L of all open positions at their marks."""
        return self.snapshot().unrealized

    @property
    def net_liquidation(self) -> Decimal:
        """Cash plus market value."""
        return self.snapshot().net_liquidation

    @property
    def daily_pnl(self) -> Decimal:
        """Change of net liquidation since the session opened."""
        return self.net_liquidation - self.session_open_net_liquidation

    @property
    def gross_position_value(self) -> Decimal:
        """Sum of absolute market values."""
        return self.snapshot().gross_position_value

    @property
    def initial_margin(self) -> Decimal:
        """Initial margin requirement of the open positions."""
        return self.snapshot().initial_margin

    @property
    def maintenance_margin(self) -> Decimal:
        """Maintenance margin requirement of the open positions."""
        return self.snapshot().maintenance_margin

    @property
    def available_funds(self) -> Decimal:
        """Net liquidation minus initial margin: what new positions may use."""
        return self.snapshot().available_funds

    @property
    def excess_liquidity(self) -> Decimal:
        """Net liquidation minus maintenance margin."""
        return self.snapshot().excess_liquidity

    @property
    def buying_power(self) -> Decimal:
        """Reg-T buying power: twice the available funds (never negative)."""
        return self.snapshot().buying_power

    @property
    def currencies(self) -> tuple[CurrencyLedger, ...]:
        """One ledger line per currency the account holds cash or positions in, the base
        currency first, then by currency code."""
        return self.snapshot().currencies


class MarginFigures:
    """The figures derived from cash, market value and the two margins, the same for a whole
    account (`Figures`) and for one segment of it (`segments.Segment`)."""

    __slots__ = ()
    cash: Decimal
    market_value: Decimal
    initial_margin: Decimal
    maintenance_margin: Decimal

    @property
    def net_liquidation(self) -> Decimal:
        """Cash plus market value."""
        return self.cash + self.market_value

    @property
    def available_funds(self) -> Decimal:
        """Net liquidation minus initial margin."""
        return self.net_liquidation - self.initial_margin

    @property
    def excess_liquidity(self) -> Decimal:
        """Net liquidation minus maintenance margin."""
        return self.net_liquidation - self.maintenance_margin

    @property
    def buying_power(self) -> Decimal:
        """Reg-T buying power: twice the available funds (never negative)."""
        return max(ZERO, self.available_funds * REG_T_LEVERAGE)


@dataclass(frozen=True, slots=True)
class Figures(MarginFigures):
    """An account's figures at one moment, in its base currency (`Portfolio.snapshot`)."""

    cash: Decimal
    commissions: Decimal
    realized: Decimal
    unrealized: Decimal
    market_value: Decimal
    gross_position_value: Decimal
    initial_margin: Decimal
    maintenance_margin: Decimal
    currencies: tuple[CurrencyLedger, ...]


@dataclass(slots=True)
class _Tally:
    """Sums over the open positions of one currency, in it."""

    market_value: Decimal = ZERO
    unrealized: Decimal = ZERO
    gross: Decimal = ZERO
    initial: Decimal = ZERO
    maintenance: Decimal = ZERO
    options: Decimal = ZERO
    futures: Decimal = ZERO
    futures_pnl: Decimal = ZERO

    def add(self, position: Position) -> None:
        value = position.market_value
        unrealized = value - position.cost
        size = abs(value)
        initial, maintenance = MARGIN_RATES[position.sec_type]
        self.market_value += value
        self.unrealized += unrealized
        self.gross += size
        self.initial += size * initial
        self.maintenance += size * maintenance
        if position.sec_type is SecType.OPT:
            self.options += value
        elif position.sec_type is SecType.FUT:
            self.futures += value
            self.futures_pnl += unrealized

    def merge(self, other: _Tally, rate: Decimal) -> None:
        """Add `other`'s sums converted at `rate` (1: added as they are)."""
        for name in _Tally.__slots__:
            mine, theirs = getattr(self, name), getattr(other, name)
            setattr(self, name, mine + (theirs if rate == 1 else theirs * rate))

    def line(self, currency: str, rate: Decimal, book: CurrencyBook) -> CurrencyLedger:
        return CurrencyLedger(
            currency=currency, exchange_rate=rate, cash=book.cash,
            commissions=book.commissions, realized=book.realized, unrealized=self.unrealized,
            stock_value=self.market_value - self.options - self.futures,
            option_value=self.options, future_value=self.futures, future_pnl=self.futures_pnl,
        )  # fmt: skip
