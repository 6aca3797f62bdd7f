"""The results table of one date, rebuilt from that date's JSON files.

`run.py` calls `write_table` after every invocation, so a run of one scenario refreshes its rows
and keeps the other scenarios' rows of the same date as their JSON files say.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import report

OURS = "tickgate"


def load(date: str, names: Sequence[str], *, quick: bool) -> dict[str, dict[str, Any]]:
    """The result documents of `date` for `names` (in that order) that exist."""
    documents = {}
    for name in names:
        path = report.result_path(date, name, quick=quick)
        if path.exists():
            documents[name] = orjson.loads(path.read_bytes())
    return documents


def render(date: str, documents: dict[str, dict[str, Any]], missing: Sequence[str]) -> str:
    """The table text: a provenance line, one row per variant, then one line per check."""
    commits = sorted({d["machine"].get("git_commit", "?") for d in documents.values()})
    cpu = next(iter(documents.values()))["machine"]["cpu"] if documents else "?"
    lines = [
        f"# {date}: medians of each scenario's runs; commit(s) {', '.join(commits)}; {cpu}",
        "# srv cpu: the server process's share of its core; core0: that core busy by anything"
        " (other load shows as core0 > srv cpu); lg cpu: the load generator's share of core 1;"
        " bound: which side was the limit (server, client, shared core, or neither)",
        report.HEADER,
    ]
    checks = []
    for name, document in documents.items():
        if "table" in document:  # a benchmark with rows of its own (trading, cluster, searches)
            lines += document["table"]
        else:
            summary = {label: v["median"] for label, v in document["variants"].items()}
            lines += report.table_rows(name, summary, OURS)
        checks += [
            f"{report.verdict(c):<4} {name}: {c['target']}: {c['measured']}"
            for c in document["checks"]
        ]
    lines += ["", *checks]
    if missing:
        lines += ["", f"not run on {date}: {', '.join(missing)}"]
    return "\n".join(lines) + "\n"


def write_table(date: str, names: Sequence[str], *, quick: bool) -> tuple[Path, str]:
    """(Re)write `results/<date>[-quick]-table.txt` from the JSON files; returns path and text."""
    documents = load(date, names, quick=quick)
    text = render(date, documents, [n for n in names if n not in documents])
    path = report.RESULTS / f"{date}{'-quick' if quick else ''}-table.txt"
    path.write_text(text)
    return path, text
