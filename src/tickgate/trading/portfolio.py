"""One account's positions, cash and P&L, driven only by fills, deposits and marks.

Bookkeeping keeps each position's *cost basis* (signed money paid for the open quantity) rather
than an average price, and subtracts exactly what it realizes, so these identities hold to the
last decimal digit at every moment:

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

from dataclasses import dataclass
from decimal import Decimal

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
    """Cash and positions of one account. Not thread-safe; the trading engine owns it."""

    def __init__(self, config: AccountConfig) -> None:
        self.config = config
        self.cash = config.starting_cash
        self.deposits = config.starting_cash
        self.commissions = ZERO
        self.realized = ZERO
        self.positions: dict[int, Position] = {}
        self.session_open_net_liquidation = self.cash

    def apply_fill(self, fill: Fill, instrument: Instrument) -> Decimal:
        """Book a fill (cash, position, commission); returns the P&L it realizes."""
        position = self.positions.get(fill.conid)
        if position is None:
            position = Position(fill.conid, instrument.sec_type, instrument.multiplier)
            self.positions[fill.conid] = position
        signed = fill.side.sign * fill.quantity
        realized = position.apply(signed, fill.price, fill.commission)
        self.cash -= signed * fill.price * instrument.multiplier + fill.commission
        self.commissions += fill.commission
        self.realized += realized
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

    @property
    def market_value(self) -> Decimal:
        """Sum of the signed market values of all positions."""
        return sum((p.market_value for p in self.positions.values()), ZERO)

    @property
    def unrealized(self) -> Decimal:
        """Unrealized P&L of all open positions at their marks."""
        return sum((p.unrealized for p in self.positions.values()), ZERO)

    @property
    def net_liquidation(self) -> Decimal:
        """Cash plus market value."""
        return self.cash + self.market_value

    @property
    def daily_pnl(self) -> Decimal:
        """Change of net liquidation since the session opened."""
        return self.net_liquidation - self.session_open_net_liquidation

    @property
    def gross_position_value(self) -> Decimal:
        """Sum of absolute market values."""
        return sum((abs(p.market_value) for p in self.positions.values()), ZERO)

    def _margin(self, which: int) -> Decimal:
        return sum(
            (
                abs(p.market_value) * MARGIN_RATES[p.sec_type][which]
                for p in self.positions.values()
            ),
            ZERO,
        )

    @property
    def initial_margin(self) -> Decimal:
        """Initial margin requirement of the open positions."""
        return self._margin(0)

    @property
    def maintenance_margin(self) -> Decimal:
        """Maintenance margin requirement of the open positions."""
        return self._margin(1)

    @property
    def available_funds(self) -> Decimal:
        """Net liquidation minus initial margin: what new positions may use."""
        return self.net_liquidation - self.initial_margin

    @property
    def excess_liquidity(self) -> Decimal:
        """Net liquidation minus maintenance margin."""
        return self.net_liquidation - self.maintenance_margin

    @property
    def buying_power(self) -> Decimal:
        """Reg-T buying power: twice the available funds (never negative)."""
        return max(ZERO, self.available_funds * REG_T_LEVERAGE)
