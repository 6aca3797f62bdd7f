"""The docs stay true: citations resolve, documented ids and routes exist, examples load."""

from __future__ import annotations

import re
from pathlib import Path

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
