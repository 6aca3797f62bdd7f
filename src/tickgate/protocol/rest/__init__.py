"""The JSON shapes of the REST API (protocol reference §8), in one home.

Pure functions from typed values (model types, or the small structural types declared beside
them for the engine's figures) to JSON-ready dicts; decimals leave by `protocol.decimals`.
The account topics of both WebSocket dialects reuse these rows, so an order or a figure has
one shape wherever it is sent. `orders` (order rows, status, trades, acknowledgements,
questions), `accounts` (positions, P&L, summary, ledger), `contracts` (search, info, secdef).
History answers (`market.history.payload`) are still built beside the bars and the market
calendar they read; moving them needs the bar type below `market` first.
"""
