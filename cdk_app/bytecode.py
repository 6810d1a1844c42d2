"""Bytecode for Lambda's Python, compiled before deploying: /opt and /var/task are read-only on
Lambda, so modules shipped without it are compiled again at every cold start.

One way to find that Python, for the layer (`make layer` runs this module) and for the functions'
code (the synth, cdk_app/packaging.py): LAMBDA_PYTHON_BIN, else python<version> on PATH. Without
one, both ship sources only. Standard library only: `make layer` runs it before any venv exists.

    python -m cdk_app.bytecode <directory> <runtime's Python, e.g. 3.14>
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path


class BytecodeError(Exception):
    """The bytecode cannot be made for Lambda's Python; the message says why and what to do."""


def runtime_python(version: str) -> str | None:
    return os.environ.get("LAMBDA_PYTHON_BIN") or shutil.which(f"python{version}")


@functools.cache
def version_of(python: str) -> str:
    try:
        out = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "not runnable"
    return out.stdout.strip()


def check(python: str, version: str) -> None:
    if (actual := version_of(python)) != version:
        raise BytecodeError(f"{python} is Python {actual}, not {version}: Lambda's Python {version} would ignore its bytecode; "
                            f"set LAMBDA_PYTHON_BIN to a Python {version}, or unset it")


def compile_tree(python: str, directory: Path) -> None:
    """unchecked-hash: code on Lambda never changes in place, so no .pyc needs checking against its
    source. Beside the sources, where Lambda's Python looks, whatever PYTHONPYCACHEPREFIX make sets."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPYCACHEPREFIX"}
    result = subprocess.run([python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", str(directory)],
                            env=env, capture_output=True, text=True)
    if result.returncode:
        raise BytecodeError(f"compiling {directory} with {python} failed: {(result.stdout + result.stderr).strip()[-500:]}")


def main(argv: list[str] | None = None) -> int:
    """The layer's bytecode. Without Lambda's Python the layer ships sources only, unless
    REQUIRE_LAYER_BYTECODE is set (the deploy workflow sets it)."""
    parser = argparse.ArgumentParser(prog="python -m cdk_app.bytecode", description=main.__doc__)
    parser.add_argument("directory", type=Path)
    parser.add_argument("version", help="the Lambda runtime's Python, e.g. 3.14")
    args = parser.parse_args(argv)
    python = runtime_python(args.version)
    if python is None:
        if os.environ.get("REQUIRE_LAYER_BYTECODE"):
            print(f"make layer: no python{args.version} on PATH (or LAMBDA_PYTHON_BIN=) to compile the layer's bytecode with; "
                  "install it, or unset REQUIRE_LAYER_BYTECODE", file=sys.stderr)
            return 2
        print(f"make layer: no python{args.version} here, so the layer ships no bytecode and each cold start on Lambda compiles "
              "its modules (docs/benchmarks.md); fine for make run and the tests")
        return 0
    try:
        check(python, args.version)
        compile_tree(python, args.directory)
    except BytecodeError as exc:
        print(f"make layer: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
