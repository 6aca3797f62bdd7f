"""Loaded by every Python process of a `tests/timeshift.sh` run (it is first on PYTHONPATH).

libfaketime 0.9.10 (Debian's) fakes the wall clock well, but with the monotonic clock left
real (FAKETIME_DONT_FAKE_MONOTONIC=1, needed because Python's timed lock waits would otherwise
wait on a fake deadline forever) its clock_nanosleep answers EINVAL, so `time.sleep` raises.
`select` with a relative timeout sleeps just as well, and libfaketime leaves it alone.
"""

from __future__ import annotations

import os
import select
import time

if os.environ.get("FAKETIME"):

    def _sleep(seconds: float) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        select.select([], [], [], seconds)

    time.sleep = _sleep
