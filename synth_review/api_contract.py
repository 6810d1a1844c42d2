"""The API contract's part of the review: docs/openapi.json at the base against the working
tree's, compared by api-smart-diff (npm, pinned), whose changes are classified breaking,
non-breaking, deprecated, annotation or unclassified."""

from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCUMENT = "docs/openapi.json"
SCRIPT = Path(__file__).resolve().parent / "api_diff.mjs"


class ContractError(Exception):
    """The comparison could not run (missing tool, unreadable document)."""


@dataclass(frozen=True)
class ApiChange:
    type: str  # breaking | non-breaking | deprecated | annotation | unclassified
    where: str  # "GET /users/{user_id} responses 404", "components securitySchemes ..."
    description: str


def _where(path: list[str | int]) -> str:
    if len(path) >= 3 and path[0] == "paths":
        rest = " ".join(str(p) for p in path[3:])
        return f"{str(path[2]).upper()} {path[1]}" + (f" {rest}" if rest else "")
    return " ".join(str(p) for p in path)


def _describe(raw: dict) -> str:
    description = raw.get("description") or f"[{raw['action'].capitalize()}]"
    values = [f"{json.dumps(raw[k])}" for k in ("before", "after") if raw.get(k) is not None]
    if raw["action"] == "replace" and len(values) == 2:
        description += f" ({values[0]} → {values[1]})"
    return description


def compare_documents(before: str, after: str) -> list[ApiChange]:
    """The classified changes from one OpenAPI document's text to another's."""
    node = ROOT / "node_modules" / ".bin" / "node"
    if not (ROOT / "node_modules" / "api-smart-diff").is_dir() or not node.exists():
        raise ContractError("api-smart-diff is not installed: run `make setup`")
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for name, text in (("before.json", before), ("after.json", after)):
            try:
                json.loads(text)
            except json.JSONDecodeError as exc:
                raise ContractError(f"{DOCUMENT} ({name.split('.')[0]}) is not JSON: {exc}") from None
            (Path(tmp) / name).write_text(text)
            files.append(str(Path(tmp) / name))
        result = subprocess.run([str(node), str(SCRIPT), *files], cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        raise ContractError(f"comparing {DOCUMENT} failed: {result.stderr.strip().splitlines()[-1:]}")
    changes = []
    for line in result.stdout.splitlines():
        raw = json.loads(line)
        changes.append(ApiChange(type=raw["type"], where=_where(raw["path"]), description=_describe(raw)))
    return changes


def document_at(ref: str) -> str | None:
    """docs/openapi.json as committed at a git ref; None where the ref has none."""
    result = subprocess.run(["git", "show", f"{ref}:{DOCUMENT}"], cwd=ROOT, capture_output=True, text=True)
    return result.stdout if result.returncode == 0 else None


def stale_document() -> str | None:
    """Why the working tree's document does not describe the code, or None when it does."""
    result = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "scripts/openapi.py", "--check"],
                            cwd=ROOT, capture_output=True, text=True)
    return None if result.returncode == 0 else (result.stderr or result.stdout).strip()
