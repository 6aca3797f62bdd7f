#!/usr/bin/env bash
# Run the test suite with the wall clock moved to another instant, to show that no test depends
# on the time of day, the weekday or a holiday. Needs libfaketime (`apt-get install faketime`).
#
#   tests/timeshift.sh '2026-12-02 03:30:00'            # a weekday night in New York (UTC given)
#   tests/timeshift.sh '2026-12-05 15:00:00' -x -q      # a Saturday; extra arguments go to pytest
#
# The clock starts at that instant and runs on. The page tests are left out: Chromium does not
# get along with libfaketime. Not part of .ci/run (it is the whole suite again, per instant).
set -euo pipefail
if [ $# -lt 1 ]; then
    echo "usage: $0 'YYYY-MM-DD HH:MM:SS' [pytest arguments]" >&2
    exit 2
fi
at="$1"
shift
root=$(cd "$(dirname "$0")/.." && pwd)
lib=$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -n 1 || true)
if [ -z "$lib" ]; then
    echo "$0: libfaketime not found (apt-get install faketime)" >&2
    exit 2
fi
# One fake clock for the whole process tree: a gateway started by a test shares its start.
export TZ=UTC FAKETIME="@$at" LD_PRELOAD="$lib" FAKETIME_DONT_FAKE_MONOTONIC=1 FAKETIME_DONT_RESET=1
export PYTHONPATH="$root/tests/timeshift:$root/src${PYTHONPATH:+:$PYTHONPATH}"
cd "$root"
exec "${PYTHON:-python3}" -m pytest --ignore=tests/page "$@"
