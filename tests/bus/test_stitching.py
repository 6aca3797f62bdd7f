"""Sequence numbers and image stitching, as pure state machines."""

from __future__ import annotations

from tickgate.bus.stitching import Sequencer, Stitcher
from tickgate.model.ticks import Tick

A = 265598


def tick(n: int) -> Tick:
    return Tick(A, {31: f"{n}.00"}, n)


def image(n: int) -> Tick:
    return Tick(A, {31: f"{n}.00", 84: "bid"}, n)


def test_sequences_count_per_conid_above_the_base() -> None:
    sequencer = Sequencer(base=1_000)
    assert [sequencer.next(A), sequencer.next(8314), sequencer.next(A)] == [1_001, 1_001, 1_002]
    assert (sequencer.last(A), sequencer.last(8314), sequencer.last(1)) == (1_002, 1_001, 1_000)


def test_ticks_before_the_image_wait_and_those_it_includes_are_dropped() -> None:
    stitcher = Stitcher()
    for n in (4, 5, 6):
        assert stitcher.on_tick(n, tick(n)) == ([], False)
    assert stitcher.on_image(5, image(5)) == ([image(5), tick(6)], False)
    assert stitcher.on_tick(6, tick(6)) == ([], False)  # late copy of what was delivered
    assert stitcher.on_tick(7, tick(7)) == ([tick(7)], False)
    assert stitcher.stats.duplicates == 1 and stitcher.last == 7


def test_a_hole_asks_for_an_image_and_holds_everything_until_it_comes() -> None:
    stitcher = Stitcher()
    stitcher.on_image(10, image(10))
    assert stitcher.on_tick(11, tick(11)) == ([tick(11)], False)
    assert stitcher.on_tick(13, tick(13)) == ([], True)
    assert not stitcher.live
    assert stitcher.on_tick(14, tick(14)) == ([], False)  # held, no second request
    assert stitcher.on_image(13, image(13)) == ([image(13), tick(14)], False)
    assert stitcher.stats.gaps == 1 and stitcher.live


def test_a_hole_right_after_the_image_asks_again() -> None:
    stitcher = Stitcher()
    stitcher.on_tick(12, tick(12))
    assert stitcher.on_image(10, image(10)) == ([image(10)], True)  # 11 never came
    assert stitcher.on_image(12, image(12)) == ([image(12)], False)
    assert stitcher.on_tick(13, tick(13)) == ([tick(13)], False)


def test_an_empty_image_delivers_nothing_but_goes_live() -> None:
    stitcher = Stitcher()
    assert stitcher.on_image(0, Tick(A, {}, 0)) == ([], False)
    assert stitcher.on_tick(1, tick(1)) == ([tick(1)], False)


def test_a_restarted_publisher_looks_like_a_hole() -> None:
    stitcher = Stitcher()
    stitcher.on_image(Sequencer(base=100).last(A), image(1))
    restarted = Sequencer(base=5_000)  # a later wall clock
    assert stitcher.on_tick(restarted.next(A), tick(2)) == ([], True)


def test_an_image_older_than_the_position_is_ignored() -> None:
    stitcher = Stitcher()
    stitcher.on_image(10, image(10))
    stitcher.on_tick(11, tick(11))
    assert stitcher.on_image(9, image(9)) == ([], False)
    assert stitcher.last == 11


def test_waiting_ticks_are_bounded_dropping_the_oldest() -> None:
    stitcher = Stitcher(max_waiting=3)
    for n in range(1, 6):
        stitcher.on_tick(n, tick(n))
    assert stitcher.stats.overflowed == 2
    assert stitcher.on_image(3, image(3)) == ([image(3), tick(4), tick(5)], False)
