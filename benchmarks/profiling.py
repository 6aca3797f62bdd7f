"""py-spy recordings of the tickgate server during a benchmark run, summarized per function.

`py-spy record --format raw` writes collapsed stacks (`frame;frame;...;leaf COUNT`); the summary
lists the functions with the most samples on top of the stack (self) and anywhere in it
(inclusive), which is what a closing note needs to say where the time goes.
"""

from __future__ import annotations

import collections
import shutil
import signal
import subprocess
from pathlib import Path

from procs import Server

TOP = 30


class Recording:
    """One py-spy process attached to a server; `finish` stops it and writes the summary."""

    def __init__(self, proc: subprocess.Popen[bytes], raw: Path, summary: Path) -> None:
        self.proc = proc
        self.raw = raw
        self.summary = summary

    def finish(self) -> None:
        """Stop recording (SIGINT makes py-spy write its file) and write the summary."""
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.raw.exists():
            self.summary.write_text(summarize(self.raw.read_text()))
            self.raw.unlink()


class Profiler:
    """Attaches py-spy to tickgate servers; does nothing for other servers or without py-spy."""

    def __init__(self, directory: Path, *, native: bool = False) -> None:
        self.directory = directory
        self.native = native
        self.binary = shutil.which("py-spy")

    def attach(self, server: Server, name: str) -> Recording | None:
        """Start sampling `server` (100 Hz; without pausing it unless native); None when not
        applicable."""
        if self.binary is None or server.kind != "tickgate":
            return None
        self.directory.mkdir(parents=True, exist_ok=True)
        raw = self.directory / f"{name}.raw"
        command = [self.binary, "record", "--pid", str(server.pid), "--rate", "100"]
        command += ["--format", "raw", "--output", str(raw)]
        # C frames too (uvloop, the GC, orjson): more detail, but py-spy must pause the process
        # for each sample then (it refuses --native with --nonblocking), which costs it time
        command.append("--native" if self.native else "--nonblocking")
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return Recording(proc, raw, self.directory / f"{name}.txt")


def summarize(collapsed: str) -> str:
    """Top functions by self and by inclusive samples from collapsed stacks, as text."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    lines = [f"{total} samples", "", "self:"]
    lines += [f"{n / total:7.1%}  {frame}" for frame, n in own.most_common(TOP)] if total else []
    lines += ["", "inclusive:"]
    lines += (
        [f"{n / total:7.1%}  {frame}" for frame, n in inclusive.most_common(TOP)] if total else []
    )
    return "\n".join(lines) + "\n"
