"""Paper trading: orders, matching, portfolio and the durable event store."""
