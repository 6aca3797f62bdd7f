"""Account shapes: the nine summary figures are named once, for REST and the `ssd` stream."""

from __future__ import annotations

from decimal import Decimal

from tests.instruments import AAPL

from tickgate.model.accounts import AccountConfig
from tickgate.model.orders import Fill, Side
from tickgate.protocol.rest.accounts import SUMMARY_FIGURES, summary, summary_figures
from tickgate.trading.portfolio import Portfolio


def _portfolio() -> Portfolio:
    portfolio = Portfolio(AccountConfig("DU1", starting_cash=Decimal(10_000)))
    portfolio.apply_fill(
        Fill("e1", 1, "DU1", AAPL.conid, Side.BUY, Decimal(10), Decimal(100), Decimal(1), 0), AAPL
    )
    portfolio.mark(AAPL.conid, Decimal(101))
    return portfolio


def test_rest_summary_keys_are_the_ibkr_names_in_lower_case_with_and_without_segment() -> None:
    portfolio = _portfolio()
    body = summary(portfolio, now_ns=5_000_000)
    names = [name for name, _ in SUMMARY_FIGURES]
    assert len(names) == 9 and list(body) == ["accountcode"] + [
        k for n in names for k in (n.lower(), f"{n.lower()}-s")
    ]
    for name, value in summary_figures(portfolio).items():
        assert body[name.lower()]["amount"] == float(value)
        assert body[name.lower()] == body[f"{name.lower()}-s"]
    assert body["netliquidation"]["amount"] == 10_000 - 1 + 10  # cash after cost, +1 a share
    assert summary_figures(portfolio)["EquityWithLoanValue"] == portfolio.net_liquidation
