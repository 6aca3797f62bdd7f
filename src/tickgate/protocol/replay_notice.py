"""The notice both WebSocket dialects get when a replay reaches the end of its recordings.

* ``/v1/api/ws``: a bulletin, ``{"topic":"blt","args":{"id":"tickgate-replay-end",
  "message":"..."}}``, the frame the real gateway uses for broadcast announcements (ibind
  routes it to its bulletins queue);
* ``/v1/portal/ws``: ``{"topic":"replay+end","message":"...","time":<epoch ms>,"ticks":N}``,
  a frame with a topic of its own, like every frame of the portal dialect.
"""

from __future__ import annotations

import orjson

from tickgate.protocol.api.frames import encode_bulletin

BULLETIN_ID = "tickgate-replay-end"
PORTAL_TOPIC = "replay+end"


def end_message(replay_time: str, ticks: int) -> str:
    """The human text of the notice."""
    return (
        f"Replay finished at {replay_time} after {ticks} ticks; the market keeps its last values."
    )


def encode_end_api(message: str) -> bytes:
    """The end notice on the api dialect (`/v1/api/ws`)."""
    return encode_bulletin(BULLETIN_ID, message)


def encode_end_portal(message: str, *, time_ms: int, ticks: int) -> bytes:
    """The end notice on the portal dialect (`/v1/portal/ws`)."""
    return orjson.dumps(
        {"topic": PORTAL_TOPIC, "message": message, "time": time_ms, "ticks": ticks}
    )
