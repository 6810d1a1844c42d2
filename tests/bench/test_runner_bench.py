"""bench/runner.py's own measuring parts: a benchmark that measures the wrong thing misleads."""

from __future__ import annotations

import gc
import json
import sys

import pytest

_path = list(sys.path)
from bench import runner  # noqa: E402

# The script puts bench/ first on sys.path for its own imports; there, bench/handler_timings.py would
# shadow lambda_src's handlers package for every test after this one.
sys.path[:] = _path


def test_probe_measures_the_machine_not_the_bench_process_heap():
    """The probe ran its workload in the bench process, where the collector's passes over the
    loaded emulator and service made it several times slower. It must run elsewhere: no collection here."""
    collections: list[int] = []

    def count(phase: str, info: dict) -> None:
        if phase == "start":
            collections.append(info["generation"])

    gc.collect()
    gc.callbacks.append(count)
    try:
        milliseconds = runner.probe()
    finally:
        gc.callbacks.remove(count)
    assert milliseconds > 0
    assert collections == [], "the probe's workload ran (and was collected) in this process"


def test_the_reference_is_judged_as_measured_and_scaled_to_the_machine_now():
    runs = {("GET", 1): {"rps": 900.0}, ("POST", 1): {"rps": 200.0}}
    verdict = runner.versus_reference(runs, scale=2.0)
    assert "GET 900/s against 606/s as measured then (above it) and 1212/s scaled to this machine now (not above it)" in verdict
    assert "POST 200/s against 156/s as measured then (above it) and 312/s scaled to this machine now (not above it)" in verdict
    slower = runner.versus_reference(runs, scale=0.5)
    assert "303/s scaled to this machine now (above it)" in slower


def test_yardstick_refuses_an_interpreter_with_another_moto(monkeypatch, tmp_path):
    """A stale .tools/yardstick (another moto than the pin) would scale the reference wrongly."""
    python = tmp_path / "python"
    python.write_text("")

    class Done:
        stdout = json.dumps({"moto": "5.0.0", "start_s": 0.5, "dynamodb_ops": 1000.0})

    monkeypatch.setattr(runner, "YARDSTICKS", {"5.2.5": python})
    monkeypatch.setattr(runner.subprocess, "run", lambda *a, **k: Done())
    with pytest.raises(SystemExit, match="runs moto 5.0.0, not 5.2.5"):
        runner.yardsticks()


def test_the_start_bench_reads_a_processs_own_cpu_time():
    """bench/runner_start.py reports the CPU a runner used by its ready line, from /proc: the
    process's user and system time, not its children's or its start time."""
    import os
    import time

    _path = list(sys.path)
    from bench import runner_start

    sys.path[:] = _path
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:
        pass
    assert abs(runner_start.cpu_seconds(os.getpid()) - time.process_time()) < 0.1
