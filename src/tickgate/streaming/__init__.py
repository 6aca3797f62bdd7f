"""Fan-out of market data to WebSocket connections: channels, tempo maps and outboxes."""
