"""The streaming hub: fake clock, a tiny in-test store, real outboxes on fake transports."""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from typing import Any

import orjson
import pytest

from tickgate.clock import NS_PER_MS, FakeClock
from tickgate.errors import NotFoundError
from tickgate.protocol.portal import encode_topic_payload
from tickgate.streaming.hub import MarketEncoder, StreamingHub
from tickgate.streaming.outbox import Outbox

PORTAL = "portal"
AAPL, MSFT = 265598, 272093


def encode_market(conid: int, values: Mapping[int, str], ts_ns: int) -> bytes:
    """The seed dialect's frame with each value as the store holds it: these tests follow
    values through the hub; how the dialect types them is tested in tests/protocol."""
    return encode_topic_payload(f"md+{conid}", {str(fid): text for fid, text in values.items()})


class Store:
    """Latest values per conid, like the market engine's snapshot()."""

    def __init__(self) -> None:
        self.values: dict[int, dict[int, str]] = {AAPL: {55: "AAPL", 31: "189.50", 84: "189.49"}}

    def updated_ns(self, conid: int) -> int | None:
        return None  # no tick times here: the hub stamps a first frame with its clock

    def snapshot(self, conid: int, fields: tuple[int, ...]) -> dict[int, str]:
        if conid not in self.values:
            raise NotFoundError(f"unknown conid {conid}")
        known = self.values[conid]
        return {f: known[f] for f in fields if f in known}


class Transport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.buffered = 0

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def is_closing(self) -> bool:
        return False


def payloads(data: bytes) -> list[Any]:
    out, pos = [], 0
    while pos < len(data):
        length, pos = data[pos + 1], pos + 2
        if length == 126:
            (length,) = struct.unpack_from("!H", data, pos)
            pos += 2
        out.append(orjson.loads(data[pos : pos + length]))
        pos += length
    return out


class Client:
    """One connection: an outbox on a recording transport."""

    def __init__(self, loop: Loop) -> None:
        self.transport = Transport()
        self.overflows: list[str] = []
        self.congested = 0
        self.outbox = Outbox(
            self.transport,
            schedule=loop.scheduled.append,
            high_water=1000,
            on_congested=self._congested,
            on_overflow=self.overflows.append,
        )

    def _congested(self) -> None:
        self.congested += 1

    def frames(self) -> list[Any]:
        return [frame for data in self.transport.writes for frame in payloads(data)]


class Loop:
    def __init__(self) -> None:
        self.scheduled: list[Callable[[], None]] = []

    def end_turn(self) -> None:
        callbacks, self.scheduled[:] = list(self.scheduled), []
        for callback in callbacks:
            callback()


class CountingEncoder:
    """The seed's encoder, counting calls; `with_ts` also writes the frame's timestamp."""

    def __init__(self, *, with_ts: bool = False) -> None:
        self.calls = 0
        self.with_ts = with_ts

    def __call__(self, conid: int, values: Mapping[int, str], ts_ns: int) -> bytes:
        self.calls += 1
        if self.with_ts:
            return orjson.dumps({**{str(k): v for k, v in values.items()}, "ts": ts_ns})
        return encode_market(conid, values, ts_ns)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def hub(clock: FakeClock) -> StreamingHub:
    return StreamingHub(Store(), clock)


@pytest.fixture
def loop() -> Loop:
    return Loop()


def subscribe(
    hub: StreamingHub,
    client: Client,
    conid: int = AAPL,
    fields: tuple[int, ...] = (31, 84),
    *,
    tempo_ms: int = 0,
    snapshot: bool = False,
    dialect: str = PORTAL,
    encoder: MarketEncoder = encode_market,
) -> None:
    hub.subscribe_market(
        client.outbox,
        conid,
        fields,
        tempo_ms=tempo_ms,
        snapshot=snapshot,
        dialect=dialect,
        encoder=encoder,
    )


def test_same_parameters_share_one_channel_and_one_encode(hub: StreamingHub, loop: Loop) -> None:
    encoder = CountingEncoder()
    a, b = Client(loop), Client(loop)
    subscribe(hub, a, fields=(31, 84), encoder=encoder)
    subscribe(hub, b, fields=(84, 31, 84), encoder=encoder)  # same set, other order
    hub.on_market(AAPL, {31: "189.51", 86: "189.52"}, 1)
    loop.end_turn()
    assert encoder.calls == 1
    assert a.frames() == b.frames() == [{"31": "189.51", "topic": "md+265598"}]
    stats = hub.stats()
    assert (stats.channels, stats.subscriptions, stats.frames_encoded) == (1, 2, 1)
    assert stats.frames_delivered == 2


def test_different_fields_tempo_or_dialect_make_different_channels(
    hub: StreamingHub, loop: Loop
) -> None:
    encoder = CountingEncoder()
    clients = [Client(loop) for _ in range(4)]
    subscribe(hub, clients[0], fields=(31,), encoder=encoder)
    subscribe(hub, clients[1], fields=(31, 84), encoder=encoder)
    subscribe(hub, clients[2], fields=(31,), tempo_ms=500, encoder=encoder)
    subscribe(hub, clients[3], fields=(31,), dialect="other", encoder=encoder)
    assert hub.stats().channels == 4
    hub.on_market(AAPL, {31: "1"}, 1)
    assert encoder.calls == 3  # the tempo channel waits for its deadline


def test_changes_are_filtered_to_the_requested_fields(hub: StreamingHub, loop: Loop) -> None:
    client = Client(loop)
    subscribe(hub, client, fields=(84, 86))
    hub.on_market(AAPL, {31: "189.60", 88: "300"}, 1)  # nothing requested changed
    hub.on_market(MSFT, {84: "400.00"}, 2)  # another conid
    loop.end_turn()
    assert client.transport.writes == [] and hub.stats().frames_encoded == 0
    hub.on_market(AAPL, {31: "189.61", 86: "189.62", 84: "189.60"}, 3)
    loop.end_turn()
    assert client.frames() == [{"86": "189.62", "84": "189.60", "topic": "md+265598"}]


def test_all_frames_of_a_turn_leave_in_one_write_per_outbox(hub: StreamingHub, loop: Loop) -> None:
    a, b = Client(loop), Client(loop)
    subscribe(hub, a)
    subscribe(hub, b)
    subscribe(hub, a, conid=MSFT)
    for i in range(5):
        hub.on_market(AAPL, {31: f"1.0{i}"}, i)
        hub.on_market(MSFT, {31: f"2.0{i}"}, i)
    loop.end_turn()
    assert len(a.transport.writes) == 1 and len(b.transport.writes) == 1
    assert len(a.frames()) == 10 and [f["31"] for f in b.frames()] == [f"1.0{i}" for i in range(5)]


def test_tempo_merges_changes_and_flushes_exactly_at_the_deadline(
    hub: StreamingHub, clock: FakeClock, loop: Loop
) -> None:
    start = clock.monotonic_ns()
    encoder = CountingEncoder(with_ts=True)
    client = Client(loop)
    subscribe(hub, client, fields=(31, 84, 86), tempo_ms=1000, encoder=encoder)
    assert hub.next_due_ns() is None  # nothing pending: no timer needed
    clock.advance(ms=100)
    hub.on_market(AAPL, {31: "1.00", 84: "0.99"}, 111)
    clock.advance(ms=500)
    hub.on_market(AAPL, {31: "1.01", 86: "1.02", 7059: "5"}, 222)
    assert hub.next_due_ns() == start + 1000 * NS_PER_MS
    assert hub.flush_due(start + 999 * NS_PER_MS) == 0
    loop.end_turn()
    assert client.transport.writes == [] and encoder.calls == 0
    assert hub.flush_due(start + 1000 * NS_PER_MS) == 1
    loop.end_turn()
    assert client.frames() == [{"31": "1.01", "84": "0.99", "86": "1.02", "ts": 222}]
    assert hub.next_due_ns() is None
    assert hub.flush_due(start + 2000 * NS_PER_MS) == 0  # unchanged: nothing is sent
    clock.set(start + 2500 * NS_PER_MS)
    hub.on_market(AAPL, {84: "0.98"}, 333)
    assert hub.next_due_ns() == start + 3000 * NS_PER_MS  # the grid start + k·tempo holds
    assert hub.flush_due(start + 5000 * NS_PER_MS) == 1  # late timer: still one frame
    loop.end_turn()
    assert client.frames()[-1] == {"84": "0.98", "ts": 333} and encoder.calls == 2


def test_a_change_exactly_on_a_deadline_waits_for_the_next_one(
    hub: StreamingHub, clock: FakeClock, loop: Loop
) -> None:
    start = clock.monotonic_ns()
    subscribe(hub, Client(loop), tempo_ms=200)
    clock.set(start + 200 * NS_PER_MS)
    hub.on_market(AAPL, {31: "1"}, 1)
    assert hub.next_due_ns() == start + 400 * NS_PER_MS


def test_snapshot_pushes_one_frame_of_everything_known(hub: StreamingHub, loop: Loop) -> None:
    encoder = CountingEncoder()
    client, other = Client(loop), Client(loop)
    subscribe(hub, other, fields=(31, 55, 70, 84))
    subscribe(hub, client, fields=(84, 31, 55, 70), tempo_ms=60_000, snapshot=True)
    subscribe(hub, client, conid=AAPL, fields=(70,), snapshot=True, dialect="x", encoder=encoder)
    loop.end_turn()
    assert client.frames() == [
        {"31": "189.50", "55": "AAPL", "84": "189.49", "topic": "md+265598"},
        {"topic": "md+265598"},  # field 70 has no value yet: the frame still confirms
    ]
    assert other.transport.writes == [] and encoder.calls == 1  # no snapshot asked: no frame


def test_snapshot_of_an_unknown_conid_raises_and_changes_nothing(
    hub: StreamingHub, loop: Loop
) -> None:
    client = Client(loop)
    with pytest.raises(NotFoundError):
        subscribe(hub, client, conid=999, snapshot=True)
    assert hub.stats().channels == 0 and hub.subscriptions(client.outbox) == 0


def test_subscribing_again_replaces_the_stream(hub: StreamingHub, loop: Loop) -> None:
    client = Client(loop)
    subscribe(hub, client, fields=(31,))
    subscribe(hub, client, fields=(31,))
    assert (hub.stats().channels, hub.stats().subscriptions) == (1, 1)
    subscribe(hub, client, fields=(84,), tempo_ms=0)
    assert (hub.stats().channels, hub.stats().subscriptions) == (1, 1)  # old channel is gone
    hub.on_market(AAPL, {31: "1", 84: "2"}, 1)
    loop.end_turn()
    assert client.frames() == [{"84": "2", "topic": "md+265598"}]


def test_unsubscribe_and_drop_leave_nothing_behind(
    hub: StreamingHub, clock: FakeClock, loop: Loop
) -> None:
    a, b = Client(loop), Client(loop)
    subscribe(hub, a)
    subscribe(hub, a, conid=MSFT, tempo_ms=100)
    subscribe(hub, b)
    subscribe(hub, b, dialect="other")
    assert hub.subscriptions(b.outbox) == 2 and hub.subscriptions(b.outbox, PORTAL) == 1
    hub.on_market(MSFT, {31: "1"}, 1)  # leaves a pending tempo deadline
    assert hub.unsubscribe_market(a.outbox, AAPL, PORTAL)
    assert not hub.unsubscribe_market(a.outbox, AAPL, PORTAL)
    hub.drop(a.outbox)
    hub.drop(b.outbox)
    hub.drop(b.outbox)
    assert hub.stats().channels == 0 and hub.stats().subscriptions == 0
    assert hub.subscriptions(a.outbox) == 0
    assert hub.next_due_ns() is None  # the closed channel's deadline is forgotten
    assert hub.flush_due(clock.monotonic_ns() + 10**12) == 0
    hub.on_market(AAPL, {31: "2"}, 2)
    loop.end_turn()
    assert a.transport.writes == [] and b.transport.writes == []


def test_subscription_churn_does_not_grow_the_deadline_heap(
    hub: StreamingHub, clock: FakeClock, loop: Loop
) -> None:
    client = Client(loop)
    for i in range(1000):
        subscribe(hub, client, tempo_ms=3_600_000)
        hub.on_market(AAPL, {31: str(i)}, i)
        hub.unsubscribe_market(client.outbox, AAPL, PORTAL)
    assert hub.stats().deadlines < 200  # purged as they go stale, not kept for an hour
    assert hub.next_due_ns() is None


def test_congested_client_gets_the_latest_values_conflated(hub: StreamingHub, loop: Loop) -> None:
    slow, fast = Client(loop), Client(loop)
    subscribe(hub, slow, fields=(31, 84, 86))
    subscribe(hub, fast, fields=(31, 84, 86))
    slow.transport.buffered = 10_000
    for i in range(1000):
        hub.on_market(AAPL, {31: f"{i}", 84 + 2 * (i % 2): f"b{i}"}, i)
        loop.end_turn()
    assert slow.transport.writes == [] and slow.congested == 1
    assert slow.outbox.stats.pending_bytes < 100  # one frame, not a thousand
    assert len(fast.frames()) == 1000
    slow.transport.buffered = 0
    slow.outbox.flush()  # what the shell does once the socket drained
    assert slow.frames() == [{"31": "999", "84": "b998", "86": "b999", "topic": "md+265598"}]


def test_a_reader_too_slow_for_reliable_frames_overflows_once(
    hub: StreamingHub, loop: Loop
) -> None:
    client = Client(loop)
    subscribe(hub, client)
    client.transport.buffered = 10_000
    for _ in range(100):
        client.outbox.push(b'{"orders":[' + b'"x",' * 5000 + b'"x"]}')
        hub.on_market(AAPL, {31: "1"}, 1)
        loop.end_turn()
    assert len(client.overflows) == 1 and client.overflows[0].startswith("slow consumer: ")
    hub.drop(client.outbox)  # what the shell does when it closes the socket
    assert hub.stats().subscriptions == 0


def test_invalid_subscriptions_are_refused(hub: StreamingHub, loop: Loop) -> None:
    client = Client(loop)
    with pytest.raises(ValueError, match="at least one field"):
        subscribe(hub, client, fields=())
    with pytest.raises(ValueError, match="tempo_ms"):
        subscribe(hub, client, tempo_ms=-1)
    subscribe(hub, client)
    with pytest.raises(ValueError, match="encoder"):
        subscribe(hub, Client(loop), encoder=CountingEncoder())
    assert hub.stats().subscriptions == 1


def test_the_hub_is_the_one_record_of_a_subscription_its_lines_and_expiry(
    hub: StreamingHub, loop: Loop
) -> None:
    a, b = Client(loop), Client(loop)
    encoder = CountingEncoder()
    record = hub.subscribe_market(
        a.outbox, AAPL, (84, 31), tempo_ms=0, snapshot=False, dialect=PORTAL, encoder=encoder,
        expires_ns=100,
    )  # fmt: skip
    assert (record.conid, record.dialect, record.fields, record.expires_ns) == (
        AAPL, PORTAL, (31, 84), 100,
    )  # fmt: skip
    assert hub.subscription(a.outbox, AAPL, PORTAL) is record
    assert hub.subscriptions_of(a.outbox, PORTAL) == [record]
    assert hub.subscriptions_of(a.outbox, "api") == []
    # Lines count distinct conids across every outbox: a streamed conid costs nothing more.
    assert hub.lines_in_use() == 1
    assert not hub.would_exceed_lines(AAPL, 1) and hub.would_exceed_lines(MSFT, 1)
    hub.subscribe_market(
        b.outbox, MSFT, (31,), tempo_ms=0, snapshot=False, dialect=PORTAL, encoder=encoder,
        expires_ns=50,
    )  # fmt: skip
    assert hub.lines_in_use() == 2
    # Resubscribing replaces the record's channel and renews its expiry in place.
    again = hub.subscribe_market(
        a.outbox, AAPL, (31, 84, 86), tempo_ms=0, snapshot=False, dialect=PORTAL,
        encoder=encoder, expires_ns=200,
    )  # fmt: skip
    assert again is record and record.fields == (31, 84, 86) and record.expires_ns == 200
    assert hub.next_expiry_ns(a.outbox, PORTAL) == 200
    assert hub.expire(a.outbox, PORTAL, 199) == [] and hub.expire(b.outbox, PORTAL, 50) == [MSFT]
    assert hub.lines_in_use() == 1 and hub.next_expiry_ns(b.outbox, PORTAL) is None
    assert hub.expire(a.outbox, PORTAL, 200) == [AAPL]
    assert hub.lines_in_use() == 0 and hub.stats().subscriptions == 0
