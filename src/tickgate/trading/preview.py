"""What an order would do to an account, computed without placing it (`.../orders/whatif`).

The preview books hypothetical fills on a copy of the account's `Portfolio`, with the same
commission schedule and margin model a real placement then uses, so its "after" numbers are the
ones the account shows right after the orders fill at the estimated prices (a resting order's
shares valued at what they cost, as when the market comes to its price). Nothing is stored,
published or matched.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from tickgate.model.instruments import Instrument
from tickgate.model.orders import Fill
from tickgate.trading.commands import PlaceOrder
from tickgate.trading.commissions import CommissionSchedule
from tickgate.trading.portfolio import Portfolio

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Change:
    """One measure before and after the previewed orders."""

    before: Decimal
    after: Decimal

    @property
    def change(self) -> Decimal:
        return self.after - self.before


@dataclass(frozen=True, slots=True)
class Estimate:
    """One order of the preview and the price it is expected to fill at; `fills_now` tells
    whether it fills on the current quote (else it would rest until the market comes to
    `price`)."""

    request: PlaceOrder
    instrument: Instrument
    price: Decimal
    fills_now: bool = True


@dataclass(frozen=True, slots=True)
class Preview:
    """The effect of a batch of orders on one account, in its base currency.

    `value` and `commission` sum the orders that open or change a position (bracket children
    only close their parent's and are left out, as in the buying-power check); `position` is
    that of the first such order's contract. `warnings` are the questions a placement would
    ask; `error` the reason a placement would be refused for lack of funds, else None.
    """

    currency: str
    estimates: tuple[Estimate, ...]
    value: Decimal
    commission: Decimal
    equity: Change
    initial: Change
    maintenance: Change
    position: Change
    warnings: tuple[str, ...]
    error: str | None


def preview(
    portfolio: Portfolio,
    estimates: Sequence[Estimate],
    schedule: Callable[[str], CommissionSchedule],
    *,
    warnings: Sequence[str] = (),
    error: str | None = None,
) -> Preview:
    """Book `estimates` (top-level orders only) on a copy of `portfolio` and compare.

    `schedule(currency)` is the commission schedule in an instrument's currency; value and
    commission are summed in the base currency at the current rates. `portfolio` is left
    untouched.
    """
    after = portfolio.copy()
    value = commission = ZERO
    for estimate in estimates:
        request, instrument = estimate.request, estimate.instrument
        ccy = instrument.currency
        fee = schedule(ccy).commission(instrument, request.quantity, estimate.price)
        fill = _hypothetical_fill(portfolio, estimate, _booked_price(after, estimate), fee)
        after.apply_fill(fill, instrument, conversion=request.currency_conversion)
        value += portfolio.in_base(request.quantity * estimate.price * instrument.multiplier, ccy)
        commission += portfolio.in_base(fee, ccy)
    return Preview(
        currency=portfolio.config.base_currency,
        estimates=tuple(estimates),
        value=value,
        commission=commission,
        equity=Change(portfolio.net_liquidation, after.net_liquidation),
        initial=Change(portfolio.initial_margin, after.initial_margin),
        maintenance=Change(portfolio.maintenance_margin, after.maintenance_margin),
        position=_position(portfolio, after, estimates),
        warnings=tuple(warnings),
        error=error,
    )


def _booked_price(portfolio: Portfolio, estimate: Estimate) -> Decimal:
    """The price the hypothetical fill is booked at. An order that fills now is booked at its
    fill price, as the engine books it (the position keeps its mark until the next quote). A
    resting order fills only once the market is at its price, so what it pays is what its
    shares are then worth: booked at the position's current mark (new shares valued at what
    they cost), it changes equity by its commission alone. Booked at its limit against a mark
    far away, a buy far below (or a sell far above) the market showed a gain no fill makes."""
    position = portfolio.positions.get(estimate.request.conid)
    if estimate.fills_now or position is None or position.mark <= 0:
        return estimate.price
    return position.mark


def _hypothetical_fill(
    portfolio: Portfolio, estimate: Estimate, price: Decimal, fee: Decimal
) -> Fill:
    request = estimate.request
    return Fill(
        execution_id="whatif",
        order_id=0,
        account=portfolio.config.account_id,
        conid=request.conid,
        side=request.side,
        quantity=request.quantity,
        price=price,
        commission=fee,
        ts_ns=0,
    )


def _position(before: Portfolio, after: Portfolio, estimates: Sequence[Estimate]) -> Change:
    if not estimates:
        return Change(ZERO, ZERO)
    conid = estimates[0].request.conid

    def held(portfolio: Portfolio) -> Decimal:
        position = portfolio.positions.get(conid)
        return position.quantity if position is not None else ZERO

    return Change(held(before), held(after))
