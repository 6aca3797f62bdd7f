"""Market-data sources: adapters of the `DataSource` port that feed ticks to the market engine."""
