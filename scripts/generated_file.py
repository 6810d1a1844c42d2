"""The command line of a script that writes a generated, committed file: write it, or with
--check fail when the committed one is stale."""

from __future__ import annotations

import sys
from pathlib import Path


def write_or_check(path: Path, text: str, command: str) -> int:
    if "--check" in sys.argv:
        if not path.exists() or path.read_text() != text:
            print(f"{path.name} is stale: run `{command}`", file=sys.stderr)
            return 1
        return 0
    path.write_text(text)
    return 0
