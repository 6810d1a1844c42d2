"""The environment of a user who types `make ...` at a shell, and of a tool that runs none of the
code coverage measures.

Tests and benchmarks that run make are often themselves started by make (`make test`, `make bench`);
the parent's MAKEFLAGS would hand the child a jobserver it cannot reach, and make then prints a
warning a user never sees.
"""

from __future__ import annotations

import os

PARENT_MAKE = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKE_TERMOUT", "MAKE_TERMERR")


def user_shell_env(**extra: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if k not in PARENT_MAKE}, **extra}


def unmeasured_env() -> dict[str, str]:
    """This environment without COVERAGE_*: under `make test`, coverage's subprocess patch would
    trace a tool that runs none of the measured packages (.coveragerc) for nothing, at up to twice
    its CPU (cfn-lint, the CDK app under the CLI, schemathesis)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}
