"""Application core for market data: the instrument catalogue and the latest-value engine."""
