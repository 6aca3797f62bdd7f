"""The api dialect on `/v1/api/ws` (IBKR's WebSocket API of today), sans-I/O.

`grammar` parses client text into the typed `commands` (validating `options`); `frames` encodes
the server's frames; `client` is the other side: it builds the client's messages and reads the
server's frames into typed events, for code that speaks this dialect to an upstream gateway.
"""
