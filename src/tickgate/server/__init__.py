"""The aiohttp shell: REST routes, WebSocket endpoints, TLS and the composition root."""
