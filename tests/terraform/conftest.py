"""Shared helpers for the Terraform sidecar's tests: run terraform offline, parse HCL."""

from __future__ import annotations

import copy
import functools
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import hcl2
import pytest

from cdk_app.config import ROOT

SIDECAR = ROOT / "terraform"
PROVIDER_FREE = [p.parent.parent for p in sorted(SIDECAR.glob("modules/*/tests/*.tftest.hcl"))]


def terraform_env() -> dict[str, str]:
    env = dict(os.environ, TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1")
    # Some machines point TF_CLI_CONFIG_FILE at a file that does not exist; terraform then warns
    # on every call. Without it terraform reads ~/.terraformrc if present, as usual.
    if env.get("TF_CLI_CONFIG_FILE") and not Path(env["TF_CLI_CONFIG_FILE"]).exists():
        del env["TF_CLI_CONFIG_FILE"]
    return env


def terraform(*args: str, cwd: Path, stdin: str | None = None, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("terraform")
    if binary is None:
        pytest.fail("terraform is not on PATH: install Terraform 1.11 (the README's prerequisites)")
    return subprocess.run(
        [binary, *args], cwd=cwd, env=terraform_env(), input=stdin, capture_output=True, text=True, timeout=timeout
    )


def _unquote(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    if isinstance(value, dict):
        return {_unquote(k): _unquote(v) for k, v in value.items() if k != "__is_block__"}
    if isinstance(value, list):
        return [_unquote(v) for v in value]
    return value


def load_hcl(path: Path) -> dict[str, Any]:
    """The file parsed, a fresh copy each call; parsed once per content (HCL parsing is slow and
    the checks read the same modules many times)."""
    stat = path.stat()
    return copy.deepcopy(_parsed(path.resolve(), stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=None)
def _parsed(path: Path, mtime_ns: int, size: int) -> dict[str, Any]:
    with path.open() as handle:
        return _unquote(hcl2.load(handle))


def resources(directory: Path) -> list[tuple[str, str, dict[str, Any], Path]]:
    """Every resource block in a module: (type, name, body, file)."""
    found = []
    for tf in sorted(directory.glob("*.tf")):
        for block in load_hcl(tf).get("resource", []):
            for rtype, named in block.items():
                for name, body in named.items():
                    found.append((rtype, name, body, tf))
    return found


def blocks(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
    value = body.get(name, [])
    return value if isinstance(value, list) else [value]


def as_json(text: str) -> Any:
    return json.loads(text)
