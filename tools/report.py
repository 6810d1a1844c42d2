"""What the bench scripts share. Generated docs are written by several scripts (docs/benchmarks.md
by the bench scripts, docs/reliability.md by the ledger and the fuzz): each rewrites only its own
section."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
RELIABILITY_HEADER = "# Reliability\n\nWritten by `make chaos`, `make fuzz` and `make mutation`; each section names its command and run.\n"
HEADER = "# Benchmarks\n\nWritten by `make bench` (scripts under `bench/`); numbers from the machine each section names.\n"


def write_section(name: str, markdown: str, *, doc: Path = DOC, header: str = HEADER) -> None:
    text = doc.read_text() if doc.exists() else header
    block = f"<!-- bench:{name} -->\n{markdown.strip()}\n<!-- /bench:{name} -->"
    pattern = re.compile(rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->", re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    doc.write_text(text)


def publish(name: str, title: str, lines: list[str], notes: str) -> None:
    """Prints a benchmark's table and writes it, under its title and above its notes, as its section."""
    report = "\n".join(lines)
    print(report)
    write_section(name, f"## {title}\n\n{report}\n\n{notes}")


def require_dev_assembly() -> None:
    """The scripts that run the local runner read the dev stage's cloud assembly."""
    if not (ROOT / "cdk.out" / ".dev.stamp").exists():
        raise SystemExit("synthesise the dev stage first: make run (or make synth STAGE=dev)")
