"""The `Bus` port: how ticks travel from sources to the market engine, later across processes."""
