"""How long `make run`'s runner takes to start, as the person at the terminal waits for it.

    make bench          # all benchmarks; this one alone: .venv/bin/python bench/runner_start.py

A fresh `python -m local_runner serve` on the dev assembly in cdk.out, from exec to its ready line,
BENCH_STARTS times (the median, and the range), with the CPU the process used by then; beside it
the floor any runner pays: an interpreter importing moto's in-process mock and boto3 and creating
one DynamoDB client. Both with the bytecode make keeps under build/pycache.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from tools.report import publish, require_dev_assembly
from tools.runner_client import READY, runner_env

ROOT = Path(__file__).resolve().parent.parent

STARTS = int(os.environ.get("BENCH_STARTS", "9"))
FLOOR = "import boto3, moto; moto.mock_aws().start(); boto3.client('dynamodb', region_name='us-east-1'); print('ready', flush=True)"
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def start_once(command: list[str], ready: str | None) -> tuple[float, float]:
    """Seconds from exec to the ready line, and the process's CPU seconds by then."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=runner_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    try:
        for line in process.stdout:
            if (READY.search(line) if ready is None else line.startswith(ready)):
                return time.perf_counter() - started, cpu_seconds(process.pid)
        raise SystemExit(f"{command[:4]} exited before it was ready ({process.wait()}); run make run once to see why")
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    require_dev_assembly()
    log_dir = ROOT / "build" / "bench"
    log_dir.mkdir(parents=True, exist_ok=True)
    serve = [sys.executable, "-m", "local_runner", "serve", "--port", "0", "--log-file", str(log_dir / "start-functions.log"),
             "--access-log", str(log_dir / "start-access.log")]
    floor = [sys.executable, "-c", FLOOR]
    samples: dict[str, list[tuple[float, float]]] = {"runner": [], "floor": []}
    for _ in range(STARTS):  # alternating, so that a change in the machine's speed touches both alike
        samples["runner"].append(start_once(serve, None))
        samples["floor"].append(start_once(floor, "ready"))
    wall = {name: statistics.median(w for w, _ in runs) for name, runs in samples.items()}
    cpu = {name: statistics.median(c for _, c in runs) for name, runs in samples.items()}

    def span(name: str) -> str:
        values = [w for w, _ in samples[name]]
        return f"{min(values):.2f}-{max(values):.2f}"

    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; {STARTS} starts each, alternating (the median, and the range).",
        "",
        "| Start | to ready, s (range) | CPU, s | vs floor |",
        "| --- | --- | --- | --- |",
        f"| `make run`'s runner: exec to its ready line (dev assembly, both functions imported, the emulated resources created) | "
        f"{wall['runner']:.2f} ({span('runner')}) | {cpu['runner']:.2f} | {wall['runner'] / wall['floor']:.2f}x |",
        f"| floor: an interpreter importing moto's in-process mock and boto3, one DynamoDB client | "
        f"{wall['floor']:.2f} ({span('floor')}) | {cpu['floor']:.2f} | 1.00x |",
    ]
    notes = (
        "What the runner adds to the floor: the two functions' modules and their libraries (Powertools, pydantic, "
        "email-validator; the X-Ray SDK in Lambda's mode, as the runner sets LAMBDA_TASK_ROOT like Lambda, so it makes no "
        "X-Ray client for centralised sampling), the template's table, queues, user pool and Pipe created in moto, the "
        "gateway's token keys and validators, and the HTTP server. The runner pauses the cycle collector for its start "
        "and freezes what the start made (as the functions do for their init on Lambda); the floor does not. "
        "`make run` itself first checks that cdk.out is "
        "current (a synth only when the code or config changed); the figure is the runner once that is done."
    )
    publish("runner-start", "Local runner start (make run)", lines, notes)


if __name__ == "__main__":
    main()
