"""The notice both WebSocket dialects get when a replay reaches the end of its recordings.

* ``/v1/api/ws``: a bulletin, ``{"topic":"blt","args":{"id":"tickgate-replay-end",
  "message":"..."}}``, the frame the real gateway uses for broadcast announcements (ibind
  routes it to its bulletins queue);
* ``/v1/portal/ws``: ``{"topic":"replay+end","message":"...","time":<epoch ms>,"ticks":N}``,
  a frame with a topic of its own, like every frame of the seed dialect.
"""

from __future__ import annotations

import orjson

from tickgate.protocol.current_frames import encode_bulletin

BULLETIN_ID = "tickgate-replay-end"
LEGACY_TOPIC = "replay+end"


def end_message(replay_time: str, ticks: int) -> str:
    """The human text of the notice."""
    return (
        f"Replay finished at {replay_time} after {ticks} ticks; the market keeps its last values."
    )


def encode_end_current(message: str) -> bytes:
    """The end notice on today's dialect."""
    return encode_bulletin(BULLETIN_ID, message)


def encode_end_legacy(message: str, *, time_ms: int, ticks: int) -> bytes:
    """The end notice on the seed dialect."""
    return orjson.dumps(
        {"topic": LEGACY_TOPIC, "message": message, "time": time_ms, "ticks": ticks}
    )
