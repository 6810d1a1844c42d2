"""The report: Markdown for a pull-request comment, plain text for a terminal."""

from __future__ import annotations

from synth_review.api_contract import DOCUMENT, ApiChange
from synth_review.compare import Change, Finding, Report

MARKER = "<!-- archon-synth-review -->"  # the workflow finds and updates its one comment by this
SECTIONS = (
    ("destructive", "Destructive changes to stateful resources"),
    ("iam", "IAM and resource-policy changes"),
    ("security", "Security-relevant changes"),
)


def _describe(change: Change) -> str:
    if change.kind == "added":
        return f"added {change.type}"
    if change.kind == "removed":
        return f"removed {change.type}"
    parts = []
    if change.code_changed:
        parts.append("function code changed" if change.type == "AWS::Lambda::Function" else "content changed")
    if change.paths:
        parts.append("changed: " + ", ".join(change.paths[:8]) + (f" (+{len(change.paths) - 8} more)" if len(change.paths) > 8 else ""))
    if change.kind == "replaced":
        parts.append(f"REPLACED because {', '.join(change.replaced_by)} changed")
    return f"{change.type}: " + "; ".join(parts)


def _cell(value: str) -> str:
    return value.replace("|", "\\|")


def _summary(report: Report) -> str:
    counts = {k: 0 for k in ("added", "removed", "modified", "replaced")}
    for changes in report.changes.values():
        for c in changes:
            counts[c.kind] += 1
    total = sum(counts.values())
    if not total and not report.stacks_added and not report.stacks_removed:
        return "No changes."
    return (f"{len(report.changes)} stack(s) changed; their resources: {counts['added']} added, {counts['removed']} removed, "
            f"{counts['modified']} modified, {counts['replaced']} replaced.")


def _api_summary(report: Report) -> str:
    if report.api is None:
        return f"API contract ({DOCUMENT}) not compared."
    if not report.api:
        return f"API contract ({DOCUMENT}): no changes."
    kinds: dict[str, int] = {}
    for change in report.api:
        kinds[change.type] = kinds.get(change.type, 0) + 1
    return f"API contract ({DOCUMENT}): " + ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items())) + "."


def _api_line(change: ApiChange) -> str:
    return f"{change.where}: {change.description}"


def markdown(report: Report) -> str:
    out = [MARKER, f"## Synth review: `{report.base}` → `{report.head}`", "", _summary(report), _api_summary(report), ""]
    if report.breaking_api:
        out += [f"### 🛑 Breaking API changes ({len(report.breaking_api)})", ""]
        out += [f"- `{_cell(c.where)}`: {c.description}" for c in report.breaking_api]
        out.append("")
    for category, title in SECTIONS:
        findings = report.of(category)
        icon = {"destructive": "🛑", "iam": "🔐", "security": "⚠️"}[category]
        if findings:
            out += [f"### {icon} {title} ({len(findings)})", ""]
            out += [f"- **{f.stack}** `{f.label}`: {f.message}" for f in findings]
            out.append("")
    for note in report.notes:
        out += [f"> {note}", ""]
    if report.stacks_added:
        out += ["**Stacks added:** " + ", ".join(f"`{s}`" for s in report.stacks_added), ""]
    if report.stacks_removed:
        out += ["**Stacks removed:** " + ", ".join(f"`{s}`" for s in report.stacks_removed), ""]
    if report.api:
        out += [f"<details><summary><b>API contract</b>: {len(report.api)} change(s)</summary>", "",
                "| Where | Kind | Change |", "| --- | --- | --- |"]
        out += [f"| `{_cell(c.where)}` | {c.type} | {_cell(c.description)} |" for c in report.api]
        out += ["", "</details>", ""]
    for stack, changes in report.changes.items():
        out += [f"<details><summary><b>{stack}</b>: {len(changes)} change(s)</summary>", "",
                "| Resource | Change |", "| --- | --- |"]
        out += [f"| `{c.label}` | {_cell(_describe(c))} |" for c in changes]
        if stack in report.cdk_diff:
            out += ["", "As `cdk diff` shows it (asset hashes and deployment ids unmasked):", "", "```", report.cdk_diff[stack], "```"]
        out += ["", "</details>", ""]
    return "\n".join(out).rstrip() + "\n"


def text(report: Report) -> str:
    out = [f"Synth review: {report.base} -> {report.head}", _summary(report), _api_summary(report), ""]
    if report.breaking_api:
        out.append(f"BREAKING API CHANGES ({len(report.breaking_api)}):")
        out += [f"  {_api_line(c)}" for c in report.breaking_api]
        out.append("")
    for category, title in SECTIONS:
        findings = report.of(category)
        if findings:
            out.append(f"{title.upper()} ({len(findings)}):")
            out += [f"  {f.stack} {f.label}: {f.message}" for f in findings]
            out.append("")
    out += [f"note: {n}" for n in report.notes]
    if report.stacks_added:
        out.append("stacks added: " + ", ".join(report.stacks_added))
    if report.stacks_removed:
        out.append("stacks removed: " + ", ".join(report.stacks_removed))
    if report.api:
        out.append("API contract:")
        out += [f"  [{c.type}] {_api_line(c)}" for c in report.api]
    for stack, changes in report.changes.items():
        out.append(f"{stack}:")
        out += [f"  [{c.kind}] {c.label}: {_describe(c)}" for c in changes]
        if stack in report.cdk_diff:
            out.append("  as cdk diff shows it:")
            out += [f"    {line}" for line in report.cdk_diff[stack].splitlines()]
    return "\n".join(out).rstrip() + "\n"


def findings_line(findings: list[Finding]) -> str:
    return "; ".join(f"{f.stack} {f.label}: {f.message}" for f in findings)
