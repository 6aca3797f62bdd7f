"""A cluster member's pieces: roles, market data over the bus, trading forwarded to the core."""
