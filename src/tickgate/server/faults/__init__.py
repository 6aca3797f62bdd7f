"""Fault injection at the gateway's edges: sockets, REST answers and the brokerage login.

Client developers must see their code survive what the real gateway does to it (dropped
sockets, logouts, competing sessions, expired streams, 429/503/500 answers, stalled heartbeats,
slow answers). The faults act at the edges only — the WebSocket pump and dialect sessions, an
aiohttp middleware, the brokerage session — never inside the market or trading engines.

* `registry`: the faults that last (a number of calls or a time), one registry per gateway.
* `rest`: the middleware that answers chosen REST routes with an error or late.
* `sockets`: what is done to every open WebSocket at once.
* `routes`: the `/tickgate/faults/...` control routes.
"""
