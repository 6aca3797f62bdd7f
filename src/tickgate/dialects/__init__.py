"""The WebSocket dialects as sans-I/O sessions, one object per connection.

A dialect session is fed what happened on its connection (a client's text, the time, a timer
that fell due) and answers by pushing frames into the connection's outbox, calling the hub and
the engines, and queueing the few effects only the I/O shell can perform (`effects`). It never
touches a socket, asyncio or a clock: `server.ws` is the pump that feeds it.

- `portal`: `/v1/portal/ws`, the dialect of the seed's streaming spec;
- `api`: `/v1/api/ws`, IBKR's WebSocket API of today (account topics in `api_account`).
"""
