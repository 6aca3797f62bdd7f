"""Historical bars: the request grammar, the synthetic pre-history, windows and answer shapes."""
