"""Validates .github/dependabot.yml and every workflow against the SchemaStore schemas that
check-jsonschema ships (no download), as GitHub would read them.

    .venv/bin/python scripts/check_github_config.py
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECKER = ROOT / ".venv" / "bin" / "check-jsonschema"


def main() -> int:
    workflows = sorted(str(p) for p in (ROOT / ".github" / "workflows").glob("*.yml"))
    failed = 0
    for schema, files in (("vendor.dependabot", [str(ROOT / ".github" / "dependabot.yml")]),
                          ("vendor.github-workflows", workflows)):
        result = subprocess.run([str(CHECKER), "--builtin-schema", schema, *files], capture_output=True, text=True)
        if result.returncode:
            print(result.stdout + result.stderr, end="", file=sys.stderr)
            failed = 1
    return failed


if __name__ == "__main__":
    sys.exit(main())
