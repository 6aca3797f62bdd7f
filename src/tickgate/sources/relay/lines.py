"""The upstream market-data lines of a relay: one `smd` per conid anyone downstream wants.

`UpstreamLines` turns downstream interest (the streaming hub's union of fields per conid) into
the `smd`/`umd` messages for ONE upstream `/v1/api/ws` connection:
- one line per conid, with the union of every field asked for; a wider union re-subscribes,
  a narrower one keeps the wider line (upstream sends a few fields more, nobody notices);
- `umd` once nobody downstream streams the conid;
- every held line is re-sent `renew_ns` after it was last sent, so the upstream's `smd`
  expiry (15 minutes on the real gateway) never ends it;
- after a reconnect every wanted line is subscribed again on the new connection.

Messages are only produced while connected; interest that changes while the upstream is away
is remembered and sent on the next connection. Not thread-safe; lives on the event loop.
"""

from __future__ import annotations

from tickgate.protocol.api.client import ApiClient

#: Renew a line this long after it was sent: two thirds of the real gateway's 15 minutes.
DEFAULT_RENEW_SECONDS = 600


class UpstreamLines:
    """The conids (and fields) a relay holds upstream, and the messages that keep them."""

    def __init__(self, *, renew_ns: int) -> None:
        if renew_ns <= 0:
            raise ValueError(f"renew_ns must be positive, got {renew_ns}")
        self._renew_ns = renew_ns
        #: conid -> the fields the relay holds (or will hold once connected) upstream.
        self.wanted: dict[int, tuple[int, ...]] = {}
        self._client = ApiClient()
        self._connected = False
        self._pending: set[int] = set()  # wanted, to be (re)sent on this connection
        self._released: list[int] = []  # to be ended on this connection
        self._sent_ns: dict[int, int] = {}  # conid -> when its smd was sent on this connection

    @property
    def connected(self) -> bool:
        return self._connected

    def held(self) -> int:
        """Lines held upstream on the current connection (0 while disconnected)."""
        return len(self._sent_ns)

    def want(self, conid: int, fields: tuple[int, ...]) -> None:
        """Downstream now streams `fields` of `conid` (the hub's union; `()`: nobody does)."""
        if not fields:
            if self.wanted.pop(conid, None) is not None:
                self._pending.discard(conid)
                if self._sent_ns.pop(conid, None) is not None:
                    self._released.append(conid)
            return
        held = self.wanted.get(conid, ())
        union = tuple(sorted({*held, *fields}))
        if union != held:
            self.wanted[conid] = union
            self._pending.add(conid)
            if conid in self._released:
                self._released.remove(conid)

    def connect(self) -> None:
        """A new upstream connection is ready: everything wanted is to be subscribed on it."""
        self._client = ApiClient()
        self._connected = True
        self._sent_ns.clear()
        self._released.clear()
        self._pending = set(self.wanted)

    def disconnect(self) -> None:
        """The upstream connection is gone; nothing is held until the next `connect`."""
        self._connected = False
        self._sent_ns.clear()
        self._released.clear()
        self._pending.clear()

    def take(self, now_ns: int) -> list[str]:
        """The messages to send now (monotonic `now_ns`): new and wider lines, renewals due,
        releases. Empty while disconnected."""
        if not self._connected:
            return []
        messages = [self._client.unsubscribe(conid) for conid in self._released]
        self._released.clear()
        due = {c for c, sent in self._sent_ns.items() if sent + self._renew_ns <= now_ns}
        for conid in sorted(self._pending | due):
            messages.append(self._client.subscribe(conid, self.wanted[conid]))
            self._sent_ns[conid] = now_ns
        self._pending.clear()
        return messages

    def next_due_ns(self) -> int | None:
        """When the next renewal is due (monotonic ns), or None when nothing is held."""
        if not self._connected or not self._sent_ns:
            return None
        return min(self._sent_ns.values()) + self._renew_ns

    def has_work(self) -> bool:
        """True when `take` would send something other than a renewal."""
        return self._connected and bool(self._pending or self._released)
