"""make mutation's bookkeeping (tools/mutation.py): which files run, how survivors are explained,
and how a file is scored. The mutation run itself is `make mutation` (minutes), not part of make test."""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

import pytest

from tools import mutation
from tools.mutation import TARGETS, FileResult, Survivor


def args(**kwargs) -> argparse.Namespace:
    return argparse.Namespace(**{"full": False, "base": None, "only": None, **kwargs})


def test_every_target_and_its_tests_exist_and_every_domain_module_with_logic_is_a_target():
    root = mutation.ROOT
    for target, tests in TARGETS.items():
        assert (root / target).is_file() and all((root / t).is_file() for t in tests), target
    logic = {f"lambda_src/users/{name}.py" for name in ("identity", "rules", "cursor", "logic", "welcome")}
    adapters = {str(p.relative_to(root)) for p in (root / "lambda_src" / "adapters").rglob("*.py") if p.name != "__init__.py"}
    assert logic | adapters <= set(TARGETS)


def test_a_file_runs_again_only_when_it_or_its_tests_changed():
    target = "lambda_src/users/logic.py"
    previous = {t: {"digest": mutation.digest(t)} for t in TARGETS}
    assert mutation.selected(args(), previous) == []
    assert mutation.selected(args(), {**previous, target: {"digest": "stale"}}) == [target]
    assert mutation.selected(args(full=True), previous) == list(TARGETS)
    assert mutation.selected(args(full=True, only=[target]), previous) == [target]


def test_against_a_base_the_files_changed_since_it_run(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(mutation, "changed_since", lambda base: {"tests/domain/test_welcome.py", "README.md"})
    assert mutation.selected(args(base="origin/main"), {}) == ["lambda_src/users/welcome.py"]
    domain = [t for t in TARGETS if t.startswith("lambda_src/users/")]
    monkeypatch.setattr(mutation, "changed_since", lambda base: {"tests/domain/ports.py"})  # the domain's stand-ins
    assert mutation.selected(args(base="origin/main"), {}) == domain
    monkeypatch.setattr(mutation, "changed_since", lambda base: {"tests/aws_tables.py"})  # the adapters' table
    assert mutation.selected(args(base="origin/main"), {}) == [t for t in TARGETS if t not in domain]
    monkeypatch.setattr(mutation, "changed_since", lambda base: {"tools/mutation.py"})  # the counting itself
    assert mutation.selected(args(base="origin/main"), {}) == list(TARGETS)


def test_changed_since_sees_committed_and_uncommitted_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    def git(*command: str) -> None:
        subprocess.run(["git", *command], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("-c", "user.email=a@b", "-c", "user.name=a", "commit", "-q", "--allow-empty", "-m", "base")
    (tmp_path / "committed.py").write_text("x")
    git("add", ".")
    git("-c", "user.email=a@b", "-c", "user.name=a", "commit", "-q", "-m", "change")
    (tmp_path / "committed.py").write_text("y")
    monkeypatch.setattr(mutation, "ROOT", tmp_path)
    assert mutation.changed_since("HEAD~1") == {"committed.py"}


def test_survivors_are_explained_by_file_line_and_mutant_only():
    result = FileResult(target="lambda_src/users/cursor.py", digest="d", mutants=10, killed=8, survivors=[
        Survivor(line="a = 1", mutant="a = 2", diff=""), Survivor(line="b = 1", mutant="b = 2", diff="")])
    mutation.explain(result, [
        {"file": "lambda_src/users/cursor.py", "line": "a = 1", "mutant": "a = 2", "why": "unobservable"},
        {"file": "lambda_src/users/rules.py", "line": "b = 1", "mutant": "b = 2", "why": "another file's"},
    ])
    assert [s.why_equivalent for s in result.survivors] == ["unobservable", None]
    assert result.equivalent == 1 and [s.line for s in result.unexplained] == ["b = 1"]
    assert result.score == pytest.approx(100 * 8 / 9)  # the equivalent mutant is no mutant


def test_every_listed_equivalent_names_a_target_and_says_why():
    for entry in mutation.load_equivalents():
        assert entry["file"] in TARGETS and entry["line"].strip() and entry["mutant"].strip() and len(entry["why"]) > 20


def test_without_mutmut_installed_the_command_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    monkeypatch.setattr(mutation, "MUTMUT", Path("/nonexistent/mutmut"))
    assert mutation.main([]) == 2
    assert "run `make mutation`" in capsys.readouterr().err
