"""The two fan-out cores (compiled C and pure Python): which one runs, that they behave the
same call by call, and what only a C implementation can get wrong (references, cycles,
exceptions and re-entrant calls from the transport or the callbacks)."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import tracemalloc
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.streaming.test_outbox import FakeTransport, Harness, decode, market_payload

from tickgate.protocol.frames import text_frame
from tickgate.streaming.fanout import IMPLEMENTATION, IMPLEMENTATIONS
from tickgate.streaming.outbox import Outbox, outbox_on

ROOT = Path(__file__).resolve().parents[2]
BOTH = pytest.mark.skipif("c" not in IMPLEMENTATIONS, reason="the C core is not built here")


def test_the_c_core_is_built_and_active_where_the_install_must_build_it() -> None:
    # .ci/run (README's test command) installs a compiler and sets this: a CI run that fell
    # back to pure Python would otherwise test only one core and pass.
    if os.environ.get("TICKGATE_REQUIRE_ACCELERATOR") != "1":
        pytest.skip("TICKGATE_REQUIRE_ACCELERATOR is not set")
    assert "c" in IMPLEMENTATIONS, "the C fan-out core was not built by the install"
    expected = "python" if os.environ.get("TICKGATE_PURE_PYTHON") == "1" else "c"
    assert expected == IMPLEMENTATION


def _core_in_a_fresh_interpreter(**env: str) -> str:
    code = (
        "from tickgate.streaming import fanout, outbox\n"
        "print(fanout.IMPLEMENTATION, outbox.Outbox.__mro__[2].__module__)"
    )
    environ = {k: v for k, v in os.environ.items() if k != "TICKGATE_PURE_PYTHON"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**environ, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return result.stdout.strip()


def test_tickgate_pure_python_forces_the_fallback_in_a_fresh_interpreter() -> None:
    assert _core_in_a_fresh_interpreter(TICKGATE_PURE_PYTHON="1") == (
        "python tickgate.streaming._fanout_py"
    )
    default = _core_in_a_fresh_interpreter()
    if "c" in IMPLEMENTATIONS:
        assert default == "c tickgate.streaming._fanout"
    else:
        assert default == "python tickgate.streaming._fanout_py"


@BOTH
@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_the_fan_out_tests_pass_again_on_the_pure_python_core() -> None:
    # The suite itself runs on the C core; the hub, channel and WebSocket servers are run a
    # second time here with the whole process on the fallback (the choice is made at import).
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/streaming",
            "tests/server/test_ws_portal.py",
            "tests/server/test_ws_api.py",
            "--deselect",
            "tests/streaming/test_fanout_core.py::"
            "test_the_fan_out_tests_pass_again_on_the_pure_python_core",
        ],
        cwd=ROOT,
        env={**os.environ, "TICKGATE_PURE_PYTHON": "1"},
        capture_output=True,
        text=True,
        timeout=1700,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout


# --- behaviour the C core must get right -------------------------------------------------------


def test_a_frame_pushed_from_inside_the_write_goes_in_the_next_write(
    outbox_class: type[Outbox],
) -> None:
    h = Harness(outbox_class)
    pushed_inside: list[bytes] = []

    def write(data: bytes) -> None:
        h.transport.writes.append(data)
        if len(h.transport.writes) == 1:
            h.outbox.push(b'{"inside":1}')
            h.market("md+1", {31: "2"})
            pushed_inside.append(data)

    h.transport.write = write  # type: ignore[method-assign]
    h.outbox.push(b'{"n":1}')
    h.market("md+1", {31: "1"})
    h.end_turn()
    assert pushed_inside and len(h.scheduled) == 1  # the inner pushes asked for a flush
    h.end_turn()
    assert [decode(w) for w in h.transport.writes] == [
        [b'{"n":1}', market_payload("md+1", {31: "1"})],
        [b'{"inside":1}', market_payload("md+1", {31: "2"})],
    ]
    assert h.outbox.stats.frames_written == 4 and h.outbox.stats.pending_bytes == 0


def test_a_schedule_that_flushes_at_once_writes_each_push(outbox_class: type[Outbox]) -> None:
    transport = FakeTransport()
    outbox = outbox_class(
        transport,
        schedule=lambda flush: flush(),
        on_congested=lambda: None,
        on_overflow=lambda reason: None,
    )
    for i in range(3):
        outbox.push_market("k", text_frame(b'{"i":%d}' % i), {31: str(i)}, market_payload)
    assert [decode(w) for w in transport.writes] == [[b'{"i":0}'], [b'{"i":1}'], [b'{"i":2}']]


class Boom(Exception):
    pass


def test_an_exception_from_the_transport_propagates_and_the_outbox_goes_on(
    outbox_class: type[Outbox],
) -> None:
    h = Harness(outbox_class)
    calls = {"write": 0}

    def failing_write(data: bytes) -> None:
        calls["write"] += 1
        raise Boom("write")

    h.transport.write = failing_write  # type: ignore[method-assign]
    h.outbox.push(b"{}")
    with pytest.raises(Boom, match="write"):
        h.end_turn()
    # Nothing counts as written; what was handed to the failed write is not kept for a retry.
    stats = h.outbox.stats
    assert calls["write"] == 1 and (stats.writes, stats.frames_written, stats.pending_bytes) == (
        0,
        0,
        0,
    )
    del h.transport.write
    h.outbox.push(b"[]")
    h.end_turn()
    assert h.frames() == [[]]

    def failing_probe() -> bool:
        raise Boom("is_closing")

    h.transport.is_closing = failing_probe  # type: ignore[method-assign]
    h.outbox.push(b"{}")
    with pytest.raises(Boom, match="is_closing"):
        h.end_turn()
    del h.transport.is_closing

    def failing_size() -> int:
        raise Boom("size")

    h.transport.get_write_buffer_size = failing_size  # type: ignore[method-assign]
    with pytest.raises(Boom, match="size"):
        h.outbox.flush()
    del h.transport.get_write_buffer_size
    h.outbox.flush()
    assert h.frames() == [[], {}]


def test_an_exception_from_schedule_or_the_sample_propagates(outbox_class: type[Outbox]) -> None:
    def refuse(flush: Callable[[], None]) -> None:
        raise Boom("schedule")

    samples: list[int] = []

    def sample(size: int) -> None:
        samples.append(size)
        raise Boom("sample")

    transport = FakeTransport()
    outbox = outbox_class(
        transport,
        schedule=refuse,
        on_congested=lambda: None,
        on_overflow=lambda reason: None,
        on_write_sample=sample,
    )
    frame = text_frame(b"{}")
    with pytest.raises(Boom, match="schedule"):
        outbox.push_market_item(("k", frame, {}, market_payload))
    with pytest.raises(Boom, match="sample"):
        outbox.flush()
    assert transport.writes == [frame] and samples == [len(frame)]
    assert outbox.stats.writes == 1 and outbox.stats.pending_bytes == 0


def test_publish_pushes_in_order_and_stops_at_the_first_exception(core: str) -> None:
    publish = IMPLEMENTATIONS[core].publish
    transports = [FakeTransport() for _ in range(4)]
    scheduled: list[Callable[[], None]] = []

    def schedule_or_fail(flush: Callable[[], None]) -> None:
        if len(scheduled) == 2:
            raise Boom("third")
        scheduled.append(flush)

    # Outboxes of both cores may share a channel: each is pushed through its own method.
    outboxes = [
        outbox_on(sorted(IMPLEMENTATIONS)[i % len(IMPLEMENTATIONS)])(
            t, schedule=schedule_or_fail, on_congested=lambda: None, on_overflow=lambda r: None
        )
        for i, t in enumerate(transports)
    ]
    frame = text_frame(b'{"p":1}')
    with pytest.raises(Boom, match="third"):
        publish(outboxes, ("k", frame, {31: "1"}, market_payload))
    assert [o.stats.pending_bytes for o in outboxes] == [len(frame)] * 3 + [0]
    for flush in scheduled:
        flush()
    assert [t.writes for t in transports] == [[frame], [frame], [], []]


@pytest.mark.skipif(not hasattr(sys, "getrefcount"), reason="CPython reference counts")
def test_no_references_are_kept_or_lost(core: str) -> None:
    publish = IMPLEMENTATIONS[core].publish
    cls = outbox_on(core)
    frame = text_frame(b'{"31":"1.00"}')
    values = {31: "1.00"}
    item = ("md+1", frame, values, market_payload)
    transports = [FakeTransport() for _ in range(3)]
    scheduled: list[Callable[[], None]] = []
    outboxes = [
        cls(t, schedule=scheduled.append, on_congested=lambda: None, on_overflow=lambda r: None)
        for t in transports
    ]
    watched = (item, frame, values, transports[0], outboxes[0])
    before = [sys.getrefcount(o) for o in watched]
    for round_ in range(200):
        transports[0].buffered = 10**9 if round_ % 3 == 0 else 0  # congested, then drained
        publish(outboxes, item)
        outboxes[1].push(b"{}")
        for flush in scheduled:
            flush()
        scheduled.clear()
        outboxes[0].flush()
        for t in transports:
            t.writes.clear()
    assert [sys.getrefcount(o) for o in watched] == before


def test_a_long_run_does_not_grow_memory(core: str) -> None:
    publish = IMPLEMENTATIONS[core].publish
    cls = outbox_on(core)
    transport = FakeTransport()
    scheduled: list[Callable[[], None]] = []
    outbox = cls(
        transport,
        schedule=scheduled.append,
        on_congested=lambda: None,
        on_overflow=lambda r: None,
        on_write_sample=lambda size: None,
    )

    def run(rounds: int) -> None:
        for i in range(rounds):
            publish((outbox,), ("md+1", text_frame(b'{"i":%d}' % i), {31: str(i)}, market_payload))
            for flush in scheduled:
                flush()
            scheduled.clear()
            transport.writes.clear()

    run(2_000)  # warm up caches and free lists
    tracemalloc.start()
    try:
        run(5_000)
        first, _ = tracemalloc.get_traced_memory()
        run(20_000)
        second, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert second - first < 20_000, (first, second)  # a leak of one object a round is 600 KB


def test_an_outbox_in_a_reference_cycle_is_collected(outbox_class: type[Outbox]) -> None:
    class Connection:
        """Like the server's: it holds its outbox, whose callbacks and transport hold it."""

        def __init__(self) -> None:
            self.outbox = outbox_class(
                self,  # type: ignore[arg-type]
                schedule=self.schedule,
                on_congested=self.congested,
                on_overflow=self.overflow,
                on_write_sample=self.sample,
            )
            self.outbox.push(b"{}")  # the turn holds a frame too

        def schedule(self, flush: Callable[[], None]) -> None:
            pass

        def congested(self) -> None:
            pass

        def overflow(self, reason: str) -> None:
            pass

        def sample(self, size: int) -> None:
            pass

    connection = Connection()
    gone = weakref.ref(connection)
    del connection
    gc.collect()
    assert gone() is None


# --- the two cores are one behaviour -----------------------------------------------------------

Op = tuple[Any, ...]
ops = st.lists(
    st.one_of(
        st.tuples(st.just("push"), st.integers(0, 120)),
        st.tuples(
            st.just("market"),
            st.integers(0, 3),
            st.dictionaries(
                st.sampled_from([31, 84, 85, 86]), st.sampled_from(["1", "2.5"]), min_size=1
            ),
        ),
        st.tuples(st.just("publish"), st.integers(0, 3), st.sampled_from(["7", "8"])),
        st.tuples(st.just("end_turn")),
        st.tuples(st.just("flush")),
        st.tuples(st.just("buffered"), st.sampled_from([0, 10, 1000, 5000])),
        st.tuples(st.just("closing")),
        st.tuples(st.just("overflow"), st.integers(0, 500)),
        st.tuples(st.just("room")),
        st.tuples(st.just("close")),
    ),
    max_size=60,
)


def _replay(core: str, sequence: list[Op], limit_bytes: int) -> list[object]:
    h = Harness(outbox_on(core), limit_bytes=limit_bytes, high_water=1000)
    samples: list[int] = []
    h.outbox._on_write_sample = samples.append
    publish = IMPLEMENTATIONS[core].publish
    seen: list[object] = []
    for op in sequence:
        kind = op[0]
        if kind == "push":
            h.outbox.push(b'"' + b"x" * op[1] + b'"')
        elif kind == "market":
            h.market(f"md+{op[1]}", dict(op[2]))
        elif kind == "publish":
            key, values = f"md+{op[1]}", {31: op[2]}
            frame = text_frame(market_payload(key, values))
            publish([h.outbox], (key, frame, values, h.reencode(key)))
        elif kind == "end_turn":
            h.end_turn()
        elif kind == "flush":
            h.outbox.flush()
        elif kind == "buffered":
            h.transport.buffered = op[1]
        elif kind == "closing":
            h.transport.closing = True
        elif kind == "overflow":
            h.outbox.overflow(op[1])
        elif kind == "room":
            seen.append(h.outbox.room())
        elif kind == "close":
            h.outbox.close()
        seen.append((h.outbox.stats, h.outbox.closed, len(h.scheduled), h.congested))
    h.transport.closing = False
    h.transport.buffered = 0
    h.end_turn()
    h.outbox.flush()
    return [seen, h.transport.writes, h.overflows, h.reencoded, samples, h.outbox.stats]


@BOTH
@given(sequence=ops, limit_bytes=st.sampled_from([100, 400, 1_048_576]))
def test_the_c_and_python_cores_make_the_same_writes_and_counters(
    sequence: list[Op], limit_bytes: int
) -> None:
    assert _replay("c", sequence, limit_bytes) == _replay("python", sequence, limit_bytes)
