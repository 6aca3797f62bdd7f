"""Throughput of the simulated market: `MarketSimulator.advance` + `MarketEngine.apply`.

Run: ``PYTHONPATH=src python benchmarks/bench_simulator.py [--seconds 5] [--batch 100]``.
Prints ticks per second over a synthetic catalogue (40 stocks, 2 indices with 4 futures each,
and an option chain of 2 expiries x 21 strikes x 2 rights on 10 of the stocks: 890
instruments), or over `default_catalogue()` with ``--default``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from tickgate.market.engine import MarketEngine
from tickgate.model.instruments import Instrument, Right, SecType
from tickgate.sources.simulator.market import MarketSimulator

START_NS = 1_767_279_600_000_000_000  # 2026-01-01T15:00:00Z


def _instrument(
    conid: int,
    symbol: str,
    sec_type: SecType,
    price: str,
    *,
    min_tick: str = "0.01",
    underlying_conid: int | None = None,
    expiry: str | None = None,
    strike: Decimal | None = None,
    right: Right | None = None,
) -> Instrument:
    return Instrument(
        conid=conid,
        symbol=symbol,
        name=symbol,
        sec_type=sec_type,
        exchange="SMART",
        currency="USD",
        min_tick=Decimal(min_tick),
        reference_price=Decimal(price),
        volatility=0.3,
        underlying_conid=underlying_conid,
        expiry=expiry,
        strike=strike,
        right=right,
    )


def synthetic_catalogue() -> list[Instrument]:
    """A deterministic catalogue shaped like a real one: stocks, indices, futures, options."""
    out: list[Instrument] = []
    for n in range(40):
        out.append(_instrument(1000 + n, f"STK{n}", SecType.STK, str(20 + 7 * n)))
    for n in range(2):
        out.append(_instrument(2000 + n, f"IDX{n}", SecType.IND, "5000"))
        for m in range(4):
            expiry = f"2026{3 * m + 3:02d}20"
            out.append(
                _instrument(
                    3000 + 10 * n + m,
                    f"FUT{n}",
                    SecType.FUT,
                    "5000",
                    min_tick="0.25",
                    underlying_conid=2000 + n,
                    expiry=expiry,
                )
            )
    conid = 10_000
    for n in range(10):
        spot = 20 + 7 * n
        for expiry in ("20260116", "20260220"):
            for k in range(-10, 11):
                for right in Right:
                    strike = Decimal(spot) * (1 + Decimal(k) / 50)
                    out.append(
                        _instrument(
                            conid,
                            f"STK{n}",
                            SecType.OPT,
                            "1.00",
                            underlying_conid=1000 + n,
                            expiry=expiry,
                            strike=strike.quantize(Decimal("0.5")),
                            right=right,
                        )
                    )
                    conid += 1
    return out


def _catalogue(use_default: bool) -> Iterable[Instrument]:
    if not use_default:
        return synthetic_catalogue()
    from tickgate.market.catalogue.catalogue import default_catalogue

    return list(default_catalogue(today=date(2026, 1, 1)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--batch", type=int, default=100, help="ticks per advance() call")
    parser.add_argument("--default", action="store_true", help="use default_catalogue()")
    args = parser.parse_args()
    instruments = list(_catalogue(args.default))
    simulator = MarketSimulator(instruments, seed=7, start_ns=START_NS)
    engine = MarketEngine(instruments)
    for tick in simulator.initial_ticks():
        engine.apply(tick)
    apply, now, produced, events = engine.apply, START_NS, 0, 0
    began = time.perf_counter()
    deadline = began + args.seconds
    while time.perf_counter() < deadline:
        now += 10_000_000  # 10 ms of simulated time per batch
        for tick in simulator.advance(now, args.batch):
            apply(tick)
            produced += 1
        events += args.batch
    elapsed = time.perf_counter() - began
    print(f"instruments      {len(instruments):>12,}")
    print(f"events/s         {events / elapsed:>12,.0f}   (advance() requests)")
    print(f"ticks/s          {produced / elapsed:>12,.0f}   (non-empty ticks applied)")


if __name__ == "__main__":
    main()
