"""argparse types for the runner's command line and the tools that drive it: a value out of range
is a usage error saying what is allowed, before anything starts."""

from __future__ import annotations

import argparse
import math
from typing import Callable, TypeVar

N = TypeVar("N", int, float)


def number_in(low: N, high: N | None = None, *, kind: type[N] = int, what: str = "allowed", note: str = "") -> Callable[[str], N]:
    """A parser of `kind` from `low` to `high` (inclusive; no upper bound if None)."""
    bounds = f"from {low:g} to {high:g}" if high is not None else f"of at least {low:g}"
    wanted = f"a whole number {bounds}" if kind is int else f"a number {bounds}"

    def parse(text: str) -> N:
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or (isinstance(value, float) and not math.isfinite(value)) or value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}: give {wanted}" + (f" ({note})" if note else ""))
        return value

    return parse


port = number_in(0, 65535, what="a port", note="0 picks a free one")
