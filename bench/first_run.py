"""First run and first test from a clean clone: what a newcomer and CI wait for.

    make bench          # all benchmarks; this one alone: .venv/bin/python bench/first_run.py

Clones the committed HEAD into a scratch directory and, with empty package caches (uv, pip, npm),
times `make run` until the runner prints its ready line, then stops it (BENCH_FIRST_RUNS clones, the median). Then, in a second clean
clone, the whole `make test` with CI=true, as `.ci/run` runs it (skip with BENCH_CLEAN_SUITE=0).
The packages still come over the network from the registries, so the figure moves with them.
"""

from __future__ import annotations

import os
import platform
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from tools.report import publish
from tools.shell_env import user_shell_env

ROOT = Path(__file__).resolve().parent.parent

TIMEOUT = 600
RUNS = int(os.environ.get("BENCH_FIRST_RUNS", "3"))


def clean_clone(into: Path) -> dict[str, str]:
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(into / "archon")], check=True)
    caches = into / "caches"
    return {**{k: v for k, v in user_shell_env().items() if not k.startswith(("VIRTUAL_ENV", "COVERAGE_"))},
            "UV_CACHE_DIR": str(caches / "uv"), "npm_config_cache": str(caches / "npm"),
            "PIP_NO_CACHE_DIR": "1", "XDG_CACHE_HOME": str(caches / "xdg")}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def disk_bytes(folder: Path) -> int:
    return int(subprocess.run(["du", "-sb", str(folder)], capture_output=True, text=True, check=True).stdout.split()[0])


def first_run(scratch: Path) -> tuple[float, int]:
    """Seconds until the API answers, and the clone's size on disk then."""
    env = clean_clone(scratch)
    started = time.perf_counter()
    process = subprocess.Popen(["make", "run", f"PORT={free_port()}"], cwd=scratch / "archon", env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    assert process.stdout is not None
    said: list[str] = []
    try:
        for line in process.stdout:
            if "ready in" in line:
                return time.perf_counter() - started, disk_bytes(scratch / "archon")
            said = [*said[-40:], line]
            if time.perf_counter() - started > TIMEOUT:
                break
        raise SystemExit(f"make run did not get ready in a clean clone (exit {process.wait(timeout=30)}):\n{''.join(said)}")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)


def clean_suite(scratch: Path) -> float:
    env = {**clean_clone(scratch), "CI": "true"}
    started = time.perf_counter()
    result = subprocess.run(["bash", ".ci/run"], cwd=scratch / "archon", env=env, capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"bash .ci/run failed in a clean clone ({result.returncode}):\n{result.stdout[-3000:]}{result.stderr[-2000:]}")
    return time.perf_counter() - started


def main() -> None:
    runs = []
    for _ in range(RUNS):  # the package registries' speed varies from one run to the next
        with tempfile.TemporaryDirectory() as tmp:
            seconds, size = first_run(Path(tmp))
        runs.append(seconds)
    lines = [f"Machine: {platform.machine()}, {os.cpu_count()} cores; from `git clone` of HEAD with empty uv, pip and "
             f"npm caches; `make run` median of {RUNS} clones (and the range), `.ci/run` one.", "",
             "| Step | wall time |", "| --- | --- |",
             f"| `make run` until the API answers (venvs, Node, the CDK CLI, the layer, a synth; {size / 1e9:.1f} GB on disk then) "
             f"| {statistics.median(runs):.0f} s ({min(runs):.0f}-{max(runs):.0f} s) |"]
    if os.environ.get("BENCH_CLEAN_SUITE", "1") != "0":
        with tempfile.TemporaryDirectory() as tmp:
            suite = clean_suite(Path(tmp))
        lines.append(f"| `bash .ci/run` (`make test` with its set-up, CI=true) | {suite:.0f} s |")
    publish("first-run", "First run from a clean clone", lines,
            "uv installs every venv and the layer's arm64 wheels, and make runs the independent set-up steps "
            "side by side (the venvs, Node and the CDK CLI, the layer); `make run` installs the whole dev venv, "
            "which uv makes cheap, so a later `make test` has nothing Python left to install.")


if __name__ == "__main__":
    main()
