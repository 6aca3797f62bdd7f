"""The relay source's logic: which upstream market-data lines to hold and when to reconnect.

Pure (no I/O): the aiohttp link in `tickgate.server.relay_link` moves its messages.
"""
