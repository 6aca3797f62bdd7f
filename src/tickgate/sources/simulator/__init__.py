"""The simulated market: a seeded pure model, its books and pricing, and `SimulatorSource`.

The model (`market`, `book`, `pricing`) reads no clock and does no I/O; `source` runs it in
real time as a `DataSource`.
"""
