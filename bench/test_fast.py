"""The fast test tier: what a developer waits for while changing the domain.

    make bench          # all benchmarks; this one alone: .venv/bin/python bench/test_fast.py

`make test-fast` (tests/domain and tests/adapters: no synth, no runner, no emulator process), warm
(set-up done, bytecode cached), wall time, median of BENCH_FAST_RUNS; the goal is under 20 s.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import time

from tools.report import ROOT, publish
from tools.shell_env import user_shell_env

RUNS = int(os.environ.get("BENCH_FAST_RUNS", "3"))
GOAL_SECONDS = 20


def main() -> None:
    env = user_shell_env()
    times, summary = [], ""
    for _ in range(RUNS + 1):  # the first run warms the bytecode cache and is not counted
        started = time.perf_counter()
        result = subprocess.run(["make", "test-fast"], cwd=ROOT, env=env, capture_output=True, text=True)
        elapsed = time.perf_counter() - started
        if result.returncode:
            raise SystemExit(f"make test-fast failed:\n{result.stdout[-3000:]}{result.stderr[-2000:]}")
        summary = result.stdout.strip().splitlines()[-1]
        times.append(elapsed)
    median = statistics.median(times[1:])
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; median of {RUNS} warm runs.", "",
        "| Command | wall time | goal | tests |", "| --- | --- | --- | --- |",
        f"| `make test-fast` | {median:.1f} s | under {GOAL_SECONDS} s: {'met' if median < GOAL_SECONDS else 'not met'} | {summary} |",
    ]
    publish("test-fast", "Fast test tier", lines,
            "The domain against stand-ins of its ports and its rules' property tests (hypothesis), and the AWS "
            "adapters on moto in process: no CDK synth, no local runner, no emulator process. `make test` runs "
            "these too, with everything else.")


if __name__ == "__main__":
    main()
