"""The API fuzz, short and bounded: the same schemathesis run as `make fuzz`, fewer examples."""

from __future__ import annotations

import pytest

from tools import fuzz


@pytest.mark.slow
def test_schemathesis_finds_nothing_against_the_local_runner(launch):
    runner = launch()
    result = fuzz.run(runner, max_examples=25, seed=3, timeout=600)
    assert result.exit_code == 0, result.summary
    assert result.server_errors == 0, result.served
    # It really ran: requests of every kind reached the API, valid and invalid.
    assert result.requests >= 150, result.served
    assert {200, 201, 400} <= set(result.served), result.served


@pytest.mark.slow
def test_make_fuzz_with_fewer_examples_meets_its_own_floor_and_a_failed_run_keeps_the_report(tmp_path, synth, monkeypatch, capsys):
    report = tmp_path / "reliability.md"
    report.write_text("# Reliability\n\nthe last good run\n")
    # A floor the run cannot meet: the run fails, and the report stays as it was.
    assert fuzz.main(["--max-examples", "5", "--min-requests", "1000000", "--assembly", str(synth.outdir), "--report", str(report)]) == 1
    out = capsys.readouterr().out
    assert "fewer than the 1000000 that 5 examples (make fuzz EXAMPLES=) call for" in out and "left as it was" in out
    assert report.read_text() == "# Reliability\n\nthe last good run\n"
    # The default floor follows the volume: a small run passes it and writes the report.
    assert fuzz.main(["--max-examples", "5", "--assembly", str(synth.outdir), "--report", str(report)]) == 0
    assert "| requests the runner answered |" in report.read_text()
