"""tickgate: a self-hosted IBKR Client Portal Web API gateway with its own market and trading
engines."""

__version__ = "0.1.0"
