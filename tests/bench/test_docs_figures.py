"""Figures in docs/ are written by the bench that measures them: each measured figure sits in a
marked block (<!-- bench:NAME -->) that a script under bench/ or tools/ rewrites, and none stands
outside one; the README quotes none."""

from __future__ import annotations

import ast
import re

from cdk_app.config import ROOT

BLOCK = re.compile(r"<!-- bench:([\w-]+) -->.*?<!-- /bench:\1 -->", re.S)
# A number with a unit a measurement is given in (times, sizes, ratios, shares).
FIGURE = re.compile(r"(?<![\w.-])\d[\d,]*(?:\.\d+)?\s?(?:ms|µs|s|x|MB|GB|KB|MiB|GiB|KiB|CPU-s|%|minutes?|seconds?)(?![\w])")
# Outside the blocks: targets and AWS's own limits, which nothing here measures.
NOT_MEASURED = {"docs/benchmarks.md": {"1.3x", "10 s", "512 MB"}}
MEASURED_DOCS = ("docs/benchmarks.md", "docs/reliability.md")


def writers() -> dict[str, str]:
    """Block name -> the script that writes it (a publish or write_section call naming it)."""
    found: dict[str, str] = {}
    for script in [*sorted((ROOT / "bench").glob("*.py")), *sorted((ROOT / "tools").glob("*.py"))]:
        for node in ast.walk(ast.parse(script.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) in ("publish", "write_section") \
                    and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                found[node.args[0].value] = str(script.relative_to(ROOT))
    return found


def test_every_figure_block_in_docs_has_the_bench_that_writes_it():
    written = writers()
    for doc in sorted((ROOT / "docs").glob("*.md")):
        for name in BLOCK.findall(doc.read_text()):
            assert name in written, f"{doc.name}: the block {name} has no bench that writes it (remove it or add the bench)"
    shown = {name for doc in MEASURED_DOCS for name in BLOCK.findall((ROOT / doc).read_text())}
    assert set(written) <= shown, f"benches whose block is missing from docs/: {sorted(set(written) - shown)}"


def test_no_measured_figure_stands_outside_a_bench_block():
    for doc in MEASURED_DOCS:
        outside = BLOCK.sub("", (ROOT / doc).read_text())
        figures = [m.group(0) for m in FIGURE.finditer(outside)]
        stray = [f for f in figures if f not in NOT_MEASURED.get(doc, set())]
        assert not stray, f"{doc}: figures outside a bench block: {stray}"


def test_the_readme_quotes_no_measurement():
    """It points at the blocks instead: a figure in a sentence that says it was measured or how
    long something took is one the README would have to keep true by hand."""
    text = re.sub(r"```.*?```", "", (ROOT / "README.md").read_text(), flags=re.S)
    sentences = re.split(r"(?<=[.;])\s", text)
    quoted = [s for s in sentences if re.search(r"\b(measured|took|takes about|answered after|starts in about)\b", s) and FIGURE.search(s)]
    assert not quoted, quoted
