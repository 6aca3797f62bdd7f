"""The instrument catalogue: lookup, search, its files, the built-in futures and option chains."""
