"""The CDK CLI's own diff of each changed stack, as reviewers know it from `cdk diff`: the pinned
CLI's `cdk diff --template`, which runs its diff engine (@aws-cdk/cloudformation-diff) on the base
template against the head assembly, offline. Archon's classification stays on top of it: the CLI
shows every changed property, including the asset hashes and API deployment ids a code-only
change rewrites, which the report's own tables mask."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import cloud_assembly

ROOT = Path(__file__).resolve().parent.parent
EMPTY_TEMPLATE: dict[str, dict[str, object]] = {"Resources": {}}


def cdk_diffs(base_dir: Path, head_dir: Path, stack_names: list[str]) -> dict[str, str]:
    """`cdk diff` output per CloudFormation stack name, for those of stack_names the head has."""
    cdk = ROOT / "node_modules" / ".bin" / "cdk"
    if not cdk.exists() or not stack_names:
        return {}
    base = {s.stack_name: s for s in cloud_assembly.stacks(base_dir)}
    head = {s.stack_name: s for s in cloud_assembly.stacks(head_dir)}
    env = {**os.environ, "NO_COLOR": "1", "FORCE_COLOR": "0", "CDK_DISABLE_VERSION_CHECK": "1"}
    found: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp) / "empty.template.json"
        empty.write_text(json.dumps(EMPTY_TEMPLATE))
        for name in stack_names:
            if name not in head:
                continue
            template = base[name].template_file if name in base else empty
            result = subprocess.run([str(cdk), "diff", "--app", str(head_dir), "--template", str(template),
                                     "--no-notices", head[name].artifact_id],
                                    cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
            lines = (result.stdout + result.stderr).splitlines()
            # Keep the diff; drop the CLI's banner and summary lines.
            kept = [line for line in lines if line.strip() and not line.startswith(("Stack ", "✨", "Number of stacks"))]
            found[name] = "\n".join(kept) if result.returncode == 0 else f"(cdk diff failed: {' '.join(lines[-3:])})"
    return found
