"""The docs stay true: citations resolve, documented ids and routes exist, examples load."""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import websocket
from tests.sources.replay_files import START_NS, quotes, write_recording

from tickgate.clock import FakeClock
from tickgate.errors import CatalogueError
from tickgate.market.catalogue.files import load_instruments
from tickgate.protocol.fields import FIELD_NAMES

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SOURCES = ROOT / "src" / "tickgate"

#: `§5.4`, `§ 8.1`, ranges `§5.4-§5.8` and `§5.4–5.8`; a citation of an RFC is not ours.
CITATION = re.compile(r"(RFC \d+ )?§ ?(\d+(?:\.\d+)*)(?:\s*[-–]\s*§?(\d+(?:\.\d+)*))?")
HEADING = re.compile(r"^#{2,6} (\d+(?:\.\d+)*)\.? ", re.MULTILINE)


def headings(document: Path) -> dict[str, str]:
    """Section number -> heading line of a Markdown document."""
    text = document.read_text(encoding="utf-8")
    return {
        match[1]: text[match.start() : text.index("\n", match.start())]
        for match in HEADING.finditer(text)
    }


def citations() -> list[tuple[str, str]]:
    """(file:line, section) of every protocol-reference citation in the sources."""
    found = []
    for path in sorted(SOURCES.rglob("*")):
        if path.suffix not in (".py", ".js", ".html", ".css"):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in CITATION.finditer(line):
                if match[1]:
                    continue
                where = f"{path.relative_to(ROOT)}:{number}"
                found += [(where, section) for section in match.groups()[1:] if section]
    return found


def test_every_section_the_code_cites_is_a_heading_of_the_protocol_reference() -> None:
    sections = headings(DOCS / "protocol.md")
    cited = citations()
    assert len({section for _, section in cited}) >= 20  # the scan itself finds them
    unresolved = [f"{where}: §{section}" for where, section in cited if section not in sections]
    assert unresolved == [], "cited sections missing from docs/protocol.md"


def test_the_reference_says_that_code_comments_cite_it() -> None:
    opening = (DOCS / "protocol.md").read_text(encoding="utf-8")[:1200]
    assert "Code comments cite this document" in opening
    assert "tests/test_docs.py" in opening


def test_the_citation_scan_reads_ranges_and_skips_rfcs() -> None:
    line = "shapes (§5.4–5.8, § 8.2) and (§3.3-§5); framing per RFC 6455 §5.2"
    sections = [s for m in CITATION.finditer(line) if not m[1] for s in m.groups()[1:] if s]
    assert sections == ["5.4", "5.8", "8.2", "3.3", "5"]


def test_every_known_field_id_is_in_the_field_table() -> None:
    text = (DOCS / "protocol.md").read_text(encoding="utf-8")
    table = text[text.index("## 6. ") : text.index("## 7. ")]
    documented = {int(cell) for cell in re.findall(r"\| (\d+) \|", table)}
    assert documented == set(FIELD_NAMES)
    for fid, name in FIELD_NAMES.items():
        assert f"| {fid} | {name} |" in table


def test_the_readme_links_every_doc() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for doc in sorted(DOCS.glob("*.md")):
        assert f"(docs/{doc.name})" in readme, doc.name


# --- docs/rest-examples.md: every answer shown is the one a gateway gives ---------------------

EXAMPLE = re.compile(
    r"```http(?P<gateway> replay)?\n(?P<request>.*?)\n```\n\n```json (?P<status>\d{3})\n"
    r"(?P<answer>.*?)\n```",
    re.DOTALL,
)
#: Path ids that stand for the latest reply id / order id the gateway answered.
PATH_IDS = re.compile(
    r"(?<=/reply/)[^/?\s]+|(?<=/order/status/)[^/?\s]+|(?<=/order/)(?!status/|whatif)[^/?\s]+"
)
#: Random session ids: the only answers that differ from one gateway to the next.
SESSION_IDS = re.compile(r"\b[0-9a-f]{32}\b|\b[0-9a-f]{8}\.[0-9a-f]{8}\b")
#: The wall clock of the documented gateway: Wednesday 2026-01-14, 10:00 in New York.
EXAMPLES_EPOCH_NS = 1_768_402_800_000_000_000


def _answered(server: Any, request: str, ids: dict[str, str]) -> tuple[str, int, Any]:
    """Send one documented request; (the request as sent, status, JSON answer)."""
    line, _, body = request.partition("\n")
    method, path = line.split(" ", 1)

    path = PATH_IDS.sub(
        lambda m: ids["reply" if path[: m.start()].endswith("/reply/") else "order"], path
    )
    call = urllib.request.Request(
        server.base_url + path,
        body.encode() if body else None,
        {"Content-Type": "application/json"},
        method=method,
    )
    try:
        with urllib.request.urlopen(call, timeout=30) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
        exc.close()
    answer = json.loads(raw)
    first = answer[0] if isinstance(answer, list) and answer else answer
    if isinstance(first, dict):
        if "messageIds" in first:  # a question: its id is what /iserver/reply/ takes
            ids["reply"] = str(first["id"])
        if "order_id" in first:
            ids["order"] = str(first["order_id"])
    return f"{method} {path}" + (f"\n{body}" if body else ""), status, answer


def replayed(gateways: dict[str, Any], text: str, *, drop: str = "") -> str:
    """`text` with each example's request and answer as the gateways answer them now: the
    default one (`""`), or the one the block names (```` ```http replay ````). `drop` is
    removed from the answers (a temporary directory)."""
    ids = {"reply": "", "order": ""}
    out, end = [], 0
    for match in EXAMPLE.finditer(text):
        name = (match["gateway"] or "").strip()
        request, status, answer = _answered(gateways[name], match["request"], ids)
        shown = json.dumps(answer, indent=2, ensure_ascii=False)
        shown = shown.replace(drop, "") if drop else shown
        block = f"```http{match['gateway'] or ''}\n{request}\n```\n\n```json {status}\n{shown}\n```"
        out += [text[end : match.start()], block]
        end = match.end()
    return "".join([*out, text[end:]])


#: What moves with the wall clock while a replay plays: where it stands and how many ticks.
REPLAY_PROGRESS = re.compile(r'"(position|replayTime)(Ns)?": ("[^"]*"|\d+)|"ticks": \d+')


def check_examples(
    path: Path, gateways: dict[str, Any], *, drop: str = "", moving: re.Pattern[str] | None = None
) -> None:
    """Replay the examples of `path`; rewrite them with TICKGATE_WRITE_DOCS=1, else compare
    (session ids, and what `moving` matches, aside)."""
    text = path.read_text(encoding="utf-8")
    live = replayed(gateways, text, drop=drop)
    if os.environ.get("TICKGATE_WRITE_DOCS") == "1":
        path.write_text(live, encoding="utf-8")

    def steady(document: str) -> str:
        document = SESSION_IDS.sub("SESSION", document)
        return moving.sub(lambda m: m.group().split(":")[0], document) if moving else document

    assert steady(live) == steady(text)


def test_the_rest_examples_are_what_a_gateway_answers(tickgate_server_factory: Any) -> None:
    server = tickgate_server_factory(seed=42, clock=FakeClock(EXAMPLES_EPOCH_NS))
    path = DOCS / "rest-examples.md"
    assert len(EXAMPLE.findall(path.read_text(encoding="utf-8"))) >= 15
    check_examples(path, {"": server})


# --- docs/control.md: every /tickgate/ route, with real answers -------------------------------


def control_routes(server: Any) -> set[str]:
    """`METHOD /tickgate/...` of every control route the running gateway registered."""
    app = server.running.runner.app
    return {
        f"{route.method} {route.resource.canonical}"
        for route in app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/tickgate/")
        and route.method != "HEAD"
    }


def test_every_control_route_is_documented(tickgate_server_factory: Any) -> None:
    routes = control_routes(tickgate_server_factory())
    assert "POST /tickgate/market/{conid}/halt" in routes  # the table is the real one
    text = (DOCS / "control.md").read_text(encoding="utf-8")
    table = text[: text.index("\n## ")]
    documented = set()
    for method_list, path in re.findall(r"^\| `([A-Z /`,]+?) (/tickgate/[^`]*)`", table, re.M):
        documented |= {f"{method} {path}" for method in re.findall(r"GET|POST|DELETE", method_list)}
    for extra_method, extra_path in re.findall(r", `(GET|POST|DELETE) (/tickgate/[^`]*)`", table):
        documented.add(f"{extra_method} {extra_path}")
    assert routes - documented == set(), "routes the gateway has and control.md does not list"
    assert documented - routes == set(), "routes control.md lists and the gateway does not have"


def test_the_control_examples_are_what_a_gateway_answers(
    tickgate_server_factory: Any, tmp_path: Path
) -> None:
    recording = write_recording(tmp_path / "aapl.tgr", quotes(40))
    gateways = {
        "": tickgate_server_factory(seed=42, clock=FakeClock(EXAMPLES_EPOCH_NS)),
        "replay": tickgate_server_factory(
            source="replay", replay=(recording,), replay_speed="0.1", clock=FakeClock(START_NS)
        ),
    }
    check_examples(DOCS / "control.md", gateways, drop=f"{tmp_path}/", moving=REPLAY_PROGRESS)


# --- docs/catalogue.md: the examples load, agree, and a gateway serves them ------------------

CATALOGUE_EXAMPLE = re.compile(
    r"```(csv|json|toml|text) (catalogue|refused)\n(.*?)\n```", re.DOTALL
)


def catalogue_examples() -> dict[tuple[str, str], str]:
    """(format, role) -> text of the catalogue doc's examples."""
    text = (DOCS / "catalogue.md").read_text(encoding="utf-8")
    return {(m[1], m[2]): m[3] + "\n" for m in CATALOGUE_EXAMPLE.finditer(text)}


def test_the_three_catalogue_formats_describe_the_same_instruments(tmp_path: Path) -> None:
    examples = catalogue_examples()
    loaded = {}
    for fmt in ("csv", "json", "toml"):
        path = tmp_path / f"extra.{fmt}"
        path.write_text(examples[(fmt, "catalogue")], encoding="utf-8")
        loaded[fmt] = load_instruments(path)
    assert [i.conid for i in loaded["csv"]] == [90000001, 90000002, 90000003]
    assert loaded["csv"] == loaded["json"] == loaded["toml"]


def test_the_documented_refusal_is_the_one_given(tmp_path: Path) -> None:
    examples = catalogue_examples()
    path = tmp_path / "extra.csv"
    path.write_text(examples[("csv", "refused")], encoding="utf-8")
    with pytest.raises(CatalogueError) as caught:
        load_instruments(path)
    assert str(caught.value) == f"{tmp_path}/{examples[('text', 'refused')].strip()}"


def test_a_gateway_serves_the_documented_catalogue(
    tickgate_server_factory: Any, tmp_path: Path
) -> None:
    path = tmp_path / "extra.toml"
    path.write_text(catalogue_examples()[("toml", "catalogue")], encoding="utf-8")
    server = tickgate_server_factory(catalogue=path)
    definitions = server.request("GET", "/v1/api/trsrv/secdef?conids=90000001,90000003")
    by_conid = {entry["conid"]: entry for entry in definitions["secdef"]}
    assert by_conid[90000001]["ticker"] == "ACME"
    assert by_conid[90000003]["assetClass"] == "OPT"
    assert server.conid("AAPL") == 265598  # extended, not replaced


# --- docs/protocol.md: the WebSocket transcripts are what a gateway sends ---------------------

TRANSCRIPT = re.compile(r"```text transcript (/v1/\w+/ws)\n(.*?)\n```", re.DOTALL)


def transcribed(server: Any, path: str, lines: list[str], session: str) -> list[str]:
    """Play the `>` lines of a transcript on a new socket and read as many frames after each
    as the transcript shows `<` lines there; the transcript as this gateway answers it."""
    socket = websocket.create_connection(server.base_url.replace("http", "ws", 1) + path)
    socket.settimeout(10)
    out = []
    try:
        for line in lines:
            if line.startswith("> "):
                out.append(line)
                socket.send(line[2:].replace("SESSION", session))
            else:
                frame = socket.recv()
                # The heartbeat follows the wall clock: one may fall between two answers.
                while '"hb":' in frame and '"hb":' not in line:
                    frame = socket.recv()
                assert isinstance(frame, str), frame  # every server message is text
                out.append(f"< {frame}")
    finally:
        socket.close()
    return out


def test_the_websocket_transcripts_are_what_a_gateway_sends(tickgate_server_factory: Any) -> None:
    server = tickgate_server_factory(seed=42, clock=FakeClock(EXAMPLES_EPOCH_NS))
    session = server.request("POST", "/v1/api/tickle")["session"]
    server.request("GET", "/v1/api/iserver/accounts")  # the seed dialect streams once primed
    document = DOCS / "protocol.md"
    text = document.read_text(encoding="utf-8")
    found = list(TRANSCRIPT.finditer(text))
    assert [match[1] for match in found] == ["/v1/api/ws", "/v1/portal/ws"]
    live, end = [], 0
    for match in found:
        lines = transcribed(server, match[1], match[2].splitlines(), session)
        live += [text[end : match.start(2)], SESSION_IDS.sub("SESSION", "\n".join(lines))]
        end = match.end(2)
    rewritten = "".join([*live, text[end:]])
    if os.environ.get("TICKGATE_WRITE_DOCS") == "1":
        document.write_text(rewritten, encoding="utf-8")
    assert rewritten == text
