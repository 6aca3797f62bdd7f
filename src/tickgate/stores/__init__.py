"""Adapters of the trading `EventStore` port that keep events outside the process (SQLite)."""
