"""Helpers for reading templates; the session-wide `synth` fixture lives in tests/conftest.py."""

from __future__ import annotations

from typing import Any



def resources(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


def only(template: dict[str, Any], type_: str, **match: Any) -> dict[str, Any]:
    """The single resource of a type whose Properties contain `match`; fails if not exactly one."""
    found = [
        r for r in resources(template, type_).values()
        if all(r.get("Properties", {}).get(k) == v for k, v in match.items())
    ]
    assert len(found) == 1, f"expected one {type_} with {match}, found {len(found)}"
    return found[0]
