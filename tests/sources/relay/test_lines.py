"""UpstreamLines and Backoff: the relay's pure logic."""

from __future__ import annotations

import random

import pytest

from tickgate.sources.relay.backoff import Backoff
from tickgate.sources.relay.lines import UpstreamLines

RENEW = 600


def connected() -> UpstreamLines:
    lines = UpstreamLines(renew_ns=RENEW)
    lines.connect()
    return lines


def test_one_smd_per_conid_with_the_union_of_fields() -> None:
    lines = connected()
    lines.want(1, (31, 84))
    lines.want(2, (31,))
    assert lines.take(0) == ['smd+1+{"fields":["31","84"]}', 'smd+2+{"fields":["31"]}']
    lines.want(1, (31, 84))  # nothing new: nothing to send
    assert lines.take(1) == []
    lines.want(1, (31, 86))  # wider: subscribed again with the union
    assert lines.take(2) == ['smd+1+{"fields":["31","84","86"]}']
    lines.want(1, (31,))  # narrower: the wider line stays
    assert lines.take(3) == [] and lines.wanted[1] == (31, 84, 86)
    lines.want(1, ())
    assert lines.take(4) == ["umd+1+{}"] and lines.held() == 1


def test_renewal_is_sent_renew_ns_after_the_line_was_sent() -> None:
    lines = connected()
    lines.want(1, (31,))
    lines.take(100)
    assert lines.next_due_ns() == 100 + RENEW
    assert lines.take(100 + RENEW - 1) == []
    assert lines.take(100 + RENEW) == ['smd+1+{"fields":["31"]}']
    assert lines.next_due_ns() == 100 + 2 * RENEW


def test_nothing_is_sent_while_disconnected_and_everything_after_a_reconnect() -> None:
    lines = connected()
    lines.want(1, (31,))
    lines.take(0)
    lines.disconnect()
    lines.want(2, (84,))
    lines.want(1, ())
    lines.want(3, (31,))
    assert lines.take(1) == [] and lines.held() == 0 and lines.next_due_ns() is None
    lines.connect()
    assert lines.take(2) == ['smd+2+{"fields":["84"]}', 'smd+3+{"fields":["31"]}']


def test_a_conid_released_and_wanted_again_before_sending_is_not_ended() -> None:
    lines = connected()
    lines.want(1, (31,))
    lines.take(0)
    lines.want(1, ())
    lines.want(1, (31,))
    assert lines.take(1) == ['smd+1+{"fields":["31"]}']


def test_backoff_doubles_up_to_the_cap_with_jitter_and_resets() -> None:
    backoff = Backoff(random.Random(3).random, base_s=1.0, cap_s=8.0)
    delays = [backoff.next_delay() for _ in range(6)]
    ceilings = [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert all(c / 2 <= d < c for d, c in zip(delays, ceilings, strict=True))
    assert len(set(delays)) == len(delays)  # jittered, not in lock step
    backoff.reset()
    assert backoff.next_delay() < 1.0
    with pytest.raises(ValueError):
        Backoff(random.random, base_s=0.0)


def test_the_relays_schedule_waits_at_most_five_seconds_however_long_the_outage() -> None:
    backoff = Backoff(random.Random(5).random)
    delays = [backoff.next_delay() for _ in range(12)]
    ceilings = [0.5, 1.0, 2.0, 4.0] + [5.0] * 8
    assert all(c / 2 <= d < c for d, c in zip(delays, ceilings, strict=True)), delays
