"""The functions' code asset: lambda_src with bytecode for Lambda's Python where that Python is at
hand (/var/task is read-only on Lambda, so code without it is compiled at every cold start)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from cdk_app import packaging
from cdk_app.config import ConfigError

THIS_PYTHON = "%d.%d" % sys.version_info[:2]


@pytest.fixture
def build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of lambda_src (with a stray bytecode folder and the requirements files) and a build folder of its own."""
    source = tmp_path / "lambda_src"
    shutil.copytree(packaging.LAMBDA_SRC, source, ignore=shutil.ignore_patterns("__pycache__"))
    (source / "users" / "__pycache__").mkdir()
    (source / "users" / "__pycache__" / "stale.cpython-311.pyc").write_bytes(b"stale")
    monkeypatch.setattr(packaging, "LAMBDA_SRC", source)
    monkeypatch.setattr(packaging, "FUNCTION_CODE_DIR", tmp_path / "function-code")
    packaging.compiled_code.cache_clear()
    yield source
    packaging.compiled_code.cache_clear()


def test_the_code_ships_its_sources_with_bytecode_lambda_never_rechecks(build: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(packaging, "RUNTIME_PYTHON", THIS_PYTHON)  # this Python stands in for Lambda's
    monkeypatch.setenv("LAMBDA_PYTHON_BIN", sys.executable)
    code = packaging.function_code()
    staged = Path(code.path)
    assert staged.parent == packaging.FUNCTION_CODE_DIR
    shipped = {str(p.relative_to(staged)) for p in staged.rglob("*") if p.is_file()}
    assert "handlers/users_api.py" in shipped and "users/welcome.py" in shipped
    assert not any(name.startswith("requirements") or "stale" in name for name in shipped)
    tag = sys.implementation.cache_tag
    pyc = staged / "handlers" / "__pycache__" / f"users_api.{tag}.pyc"
    # PEP 552: flags 0b01 is hash-based without checking the source, which Lambda's read-only
    # /var/task could not act on anyway.
    assert int.from_bytes(pyc.read_bytes()[4:8], "little") == 0b01
    assert {f"{p.stem}.{tag}.pyc" for p in (staged / "users").glob("*.py")} == {p.name for p in (staged / "users" / "__pycache__").iterdir()}


def test_the_same_sources_are_staged_once_and_a_change_is_a_new_version(build: Path) -> None:
    first, digest = packaging.compiled_code(sys.executable)
    packaging.compiled_code.cache_clear()
    assert packaging.compiled_code(sys.executable) == (first, digest)  # a second synth: no new copy
    (build / "users" / "logic.py").write_text((build / "users" / "logic.py").read_text() + "\n# changed\n")
    packaging.compiled_code.cache_clear()
    changed, other = packaging.compiled_code(sys.executable)
    assert other != digest and changed.exists() and not first.exists()  # the old version is cleaned up


def test_a_python_other_than_lambdas_is_refused_by_name(build: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(packaging, "RUNTIME_PYTHON", "3.99")
    monkeypatch.setenv("LAMBDA_PYTHON_BIN", sys.executable)
    with pytest.raises(ConfigError, match=rf"is Python {THIS_PYTHON}, not 3.99: Lambda's Python 3.99 would ignore its bytecode"):
        packaging.function_code()


def test_without_lambdas_python_the_sources_ship_alone(build: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAMBDA_PYTHON_BIN", raising=False)
    monkeypatch.setattr(packaging.shutil, "which", lambda name: None)
    assert Path(packaging.function_code().path) == build


def test_both_ways_ship_the_same_files(build: Path, tmp_path: Path) -> None:
    """CDK's asset staging (without Lambda's Python) and the staged copy (with it) read one rule."""
    import aws_cdk as cdk

    (build / ".env").write_text("SECRET=1\n")
    (build / "users" / "requirements-extra.txt").write_text("x\n")
    (build / "users" / "notes.txt").write_text("shipped\n")
    stack = cdk.Stack(cdk.App(outdir=str(tmp_path / "cdk.out")), "Packaging")
    staging = cdk.AssetStaging(stack, "Code", source_path=str(build), exclude=packaging.NOT_SHIPPED_GLOBS)
    by_cdk = {str(p.relative_to(staging.absolute_staged_path)) for p in Path(staging.absolute_staged_path).rglob("*") if p.is_file()}
    staged, _ = packaging.compiled_code(sys.executable)
    by_copy = {str(p.relative_to(staged)) for p in staged.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert by_cdk == by_copy
    assert "users/notes.txt" in by_cdk and not {".env", "users/requirements-extra.txt", "requirements.txt"} & by_cdk
