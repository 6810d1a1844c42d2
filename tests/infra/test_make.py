"""make as the README tells users to call it: help lists every command the README names, a bad
STAGE never deletes output, and config errors name the line, the key and the fix."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cdk_app.config import CONFIG_FILE, ROOT, ConfigError, load_stages
from tools.shell_env import user_shell_env

pytestmark = pytest.mark.slow


def test_make_help_lists_every_command_the_readme_names() -> None:
    readme = (ROOT / "README.md").read_text()
    named = set(re.findall(r"\bmake (?:-s )?([a-z][a-z0-9-]+)", readme)) - {"sure", "it", "the", "a"}
    helped = subprocess.run(["make", "help"], cwd=ROOT, env=user_shell_env(), capture_output=True, text=True, check=True).stdout
    listed = set(re.findall(r"^make ([a-z][a-z0-9-]+)", helped, flags=re.MULTILINE))
    assert named, "the README names no make command?"
    assert named <= listed, f"make help omits {sorted(named - listed)}"
    targets = set(re.findall(r"^([a-z][a-z0-9-]+):", (ROOT / "Makefile").read_text(), flags=re.MULTILINE))
    assert listed <= targets, f"make help lists commands the Makefile lacks: {sorted(listed - targets)}"


@pytest.mark.parametrize("command", ["synth", "run"])
def test_make_synth_or_run_with_a_bad_stage_keeps_the_previous_output(tmp_path: Path, command: str) -> None:
    """In a copy of the project (links to everything but cdk.out), so the real cdk.out is untouched."""
    for entry in ROOT.iterdir():
        if entry.name not in ("cdk.out", "build"):
            (tmp_path / entry.name).symlink_to(entry)
    (tmp_path / "build").mkdir()
    for built in (ROOT / "build").glob("*"):  # the layer, and make's bytecode (build/pycache)
        if built.name.startswith("layer") or built.name == "pycache":
            (tmp_path / "build" / built.name).symlink_to(built)
    previous = tmp_path / "cdk.out"
    previous.mkdir()
    (previous / "manifest.json").write_text("{}")
    # -o: the tools are set up already (the copy links them); only the synth runs.
    keep = [arg for target in (".venv/.stamp", "node_modules/.stamp", ".tools/node/bin/node", "build/layer.stamp", ".tools/checkov/.stamp")
            for arg in ("-o", target)]
    result = subprocess.run(["make", *keep, command, "STAGE=prd"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                            env=user_shell_env(CI="true"))
    assert result.returncode != 0
    assert "stages.prd: no such stage; allowed: dev, staging, prod" in result.stderr + result.stdout
    assert (previous / "manifest.json").read_text() == "{}"


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "stages.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("region", ["us-east-7", "eu-north-9", "ap-south-9"])
def test_a_region_aws_does_not_have_is_refused(tmp_path: Path, region: str) -> None:
    data = yaml.safe_load(CONFIG_FILE.read_text())
    data["stages"]["dev"]["aws_regions"] = [region]
    with pytest.raises(ConfigError, match=rf"stages\.dev\.aws_regions\[0\]: '{region}' is not allowed; allowed: a region AWS has"):
        load_stages(_config(tmp_path, yaml.safe_dump(data, sort_keys=False)))


def test_regions_come_from_the_sdk_not_a_hand_list() -> None:
    from cdk_app.config import aws_regions

    assert {"us-east-1", "eu-west-1", "ap-southeast-2", "us-gov-west-1", "cn-north-1"} <= aws_regions()


def test_an_api_timeout_past_api_gateways_29_seconds_is_refused(tmp_path: Path) -> None:
    data = yaml.safe_load(CONFIG_FILE.read_text())
    data["stages"]["prod"]["functions"]["users_api"]["timeout_seconds"] = 30
    with pytest.raises(ConfigError, match=r"stages\.prod\.functions\.users_api\.timeout_seconds: 30 is not allowed; allowed: at most 29"):
        load_stages(_config(tmp_path, yaml.safe_dump(data, sort_keys=False)))


def _layer_bytecode(tmp_path: Path, version: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The layer's bytecode step as `make layer` runs it (the machine's python3, no venv)."""
    package = tmp_path / "python" / "somelib"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("VALUE = 1\n")
    return subprocess.run(["python3", "-m", "cdk_app.bytecode", str(tmp_path / "python"), version], cwd=ROOT,
                          capture_output=True, text=True, env=user_shell_env(**env), timeout=120)


def test_the_layer_ships_bytecode_for_the_runtimes_python_that_lambda_never_rechecks(tmp_path: Path) -> None:
    version = "%d.%d" % sys.version_info[:2]  # here, this interpreter stands in for Lambda's
    # make exports a bytecode prefix for its own processes; the layer's must sit beside its sources.
    result = _layer_bytecode(tmp_path, version, LAMBDA_PYTHON_BIN=sys.executable, PYTHONPYCACHEPREFIX=str(tmp_path / "prefix"))
    assert result.returncode == 0, result.stderr
    [compiled] = (tmp_path / "python" / "somelib" / "__pycache__").glob("__init__.*.pyc")
    assert compiled.name == f"__init__.{sys.implementation.cache_tag}.pyc"
    flags = int.from_bytes(compiled.read_bytes()[4:8], "little")
    assert flags == 0b01, "hash-based and unchecked: Lambda's read-only /opt never has a newer source to check"


def test_bytecode_from_another_python_or_none_where_required_stops_the_layer(tmp_path: Path) -> None:
    other = _layer_bytecode(tmp_path, "3.14" if sys.version_info[:2] != (3, 14) else "3.13", LAMBDA_PYTHON_BIN=sys.executable)
    assert other.returncode == 2 and "would ignore its bytecode" in other.stderr
    missing = _layer_bytecode(tmp_path, "9.99", REQUIRE_LAYER_BYTECODE="1")
    assert missing.returncode == 2 and "no python9.99 on PATH" in missing.stderr
    allowed = _layer_bytecode(tmp_path, "9.99")
    assert allowed.returncode == 0 and "ships no bytecode" in allowed.stdout
    assert not list((tmp_path / "python").rglob("*.pyc"))


@pytest.mark.slow
def test_make_run_from_a_state_without_the_venv_synthesises_only_once_the_venv_is_ready(tmp_path: Path) -> None:
    """node_modules present and .venv gone (as after `rm -rf .venv`): under make's --jobs the
    stage's synth once started before the venv it runs on was installed."""
    for entry in ROOT.iterdir():
        if entry.name not in ("cdk.out", "build", ".venv"):
            (tmp_path / entry.name).symlink_to(entry)
    (tmp_path / "build").mkdir()
    for built in (ROOT / "build").glob("*"):
        if built.name.startswith("layer") or built.name == "pycache":
            (tmp_path / "build" / built.name).symlink_to(built)
    result = subprocess.run(["make", "-o", "build/layer.stamp", "cdk.out/.dev.stamp"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=600, env=user_shell_env(CI="true"))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    lines = result.stdout.splitlines()
    venv_ready = next(i for i, line in enumerate(lines) if line.startswith("touch .venv/.stamp"))
    synth = next(i for i, line in enumerate(lines) if "npx cdk synth" in line)
    assert venv_ready < synth, result.stdout


def test_make_synth_and_diff_install_only_what_they_use() -> None:
    database = subprocess.run(["make", "-pRrq", ":"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                              env=user_shell_env()).stdout
    rules = dict(re.findall(r"^([^\s#:=][^:=\n]*?):(?!=) ?([^\n]*)$", database, re.M))

    def needs(target: str, seen: set[str] | None = None) -> set[str]:
        seen = set() if seen is None else seen
        for prerequisite in rules.get(target, "").split():
            if prerequisite not in seen:
                seen.add(prerequisite)
                needs(prerequisite, seen)
        return seen

    for target in ("synth", "diff"):
        assert {".venv/.stamp", "node_modules/.stamp", "build/layer.stamp"} <= needs(target), target
        assert not {".tools/checkov/.stamp", ".tools/openapi-client/.stamp"} & needs(target), target
    assert ".venv/.stamp" in rules["cdk.out/.%.stamp"].split()
