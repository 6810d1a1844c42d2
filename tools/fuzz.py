"""The API fuzz: schemathesis drives the committed OpenAPI document (docs/openapi.json) against
the local runner, over HTTP on 127.0.0.1 only.

Every schemathesis check runs (tools/schemathesis.toml says which one is off, and why): no
5xx, every status and body as documented (so every error in the error contract), schema-valid
requests accepted, schema-invalid ones rejected. (Its auth probe, `ignored_auth`, handles only
apiKey and HTTP schemes, not the document's OAuth2 client-credentials scheme; the end-to-end tests
check 401 and 403 per route instead.) On top, the runner's own count of
what it answered (GET /_local/status) confirms the number of requests and that none was a 5xx.

`make fuzz` runs the long version (at least 10,000 requests) and writes its section of
docs/reliability.md; tests/e2e/test_fuzz.py runs a short bounded one inside `make test`.
"""

from __future__ import annotations

import argparse
import math
import re
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tools.arguments import number_in
from tools.runner_client import ROOT, Runner, start_runner, stop_runner
from tools.shell_env import unmeasured_env

OPENAPI = ROOT / "docs" / "openapi.json"
CONFIG = Path(__file__).resolve().parent / "schemathesis.toml"
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"


@dataclass
class FuzzResult:
    exit_code: int
    served: Counter[int]
    summary: str  # schemathesis's closing summary
    seconds: float

    @property
    def requests(self) -> int:
        return sum(self.served.values())

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.served.items() if status >= 500)


def _served(runner: Runner) -> Counter[int]:
    return Counter({int(k): v for k, v in runner.local("status")["api_responses"].items()})


def run(runner: Runner, *, max_examples: int, seed: int, timeout: float) -> FuzzResult:
    before = _served(runner)
    started = time.monotonic()
    command = [
        str(SCHEMATHESIS), "--config-file", str(CONFIG), "run", str(OPENAPI), "--url", runner.url,
        "--header", f"Authorization: Bearer {runner.token}", "--max-examples", str(max_examples),
        "--seed", str(seed), "--workers", "1", "--request-timeout", "30",
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**unmeasured_env(), "NO_COLOR": "1", "SCHEMATHESIS_TELEMETRY": "false"})
    output = done.stdout + done.stderr
    served = _served(runner) - before
    summary = output[output.rfind("SUMMARY"):] if "SUMMARY" in output else output[-4000:]
    if done.returncode != 0:
        summary = output[output.find("FAILURES"):] if "FAILURES" in output else output[-8000:]
    return FuzzResult(exit_code=done.returncode, served=served, summary=summary.strip(), seconds=time.monotonic() - started)


def report(result: FuzzResult, max_examples: int, seed: int) -> str:
    statuses = ", ".join(f"{status}: {n}" for status, n in sorted(result.served.items()))
    cases = re.search(r"(\d+) generated", result.summary)
    return f"""## API fuzz (schemathesis against the local runner)

Command: `make fuzz` (`python -m tools.fuzz --max-examples {max_examples} --seed {seed}`): schemathesis
{_version()} runs every phase (examples, coverage, fuzzing, stateful) and every check but one
(`tools/schemathesis.toml` says which and why) from `docs/openapi.json` against `make run`'s
runner on 127.0.0.1.

| Count | Value |
| --- | --- |
| test cases generated | {cases.group(1) if cases else "see the summary"} |
| requests the runner answered | {result.requests} |
| by status | {statuses} |
| 5xx answers | {result.server_errors} |
| schemathesis failures | {"none" if result.exit_code == 0 else "see below"} |
| seconds | {result.seconds:.0f} |

A 400 is a schema-invalid request rejected in the error contract; 409/422 are duplicate emails
and reused Idempotency-Keys from the stateful phase. (Auth is checked by the end-to-end tests:
schemathesis does not probe OAuth2 schemes.)
"""


def _version() -> str:
    out = subprocess.run([str(SCHEMATHESIS), "--version"], capture_output=True, text=True).stdout
    return out.strip().split()[-1] if out.strip() else "?"


DEFAULT_EXAMPLES = 3500
# The request floor scales with the volume asked for: 10,000 at the default, in proportion at any
# other (a smaller run sends more per example, never fewer); a run under it did not really run.
DEFAULT_FLOOR = 10_000
REQUESTS_PER_EXAMPLE = DEFAULT_FLOOR / DEFAULT_EXAMPLES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-examples", type=number_in(1, what="a number of examples"), default=DEFAULT_EXAMPLES,
                        help="examples per operation and phase (make fuzz EXAMPLES=)")
    parser.add_argument("--min-requests", type=number_in(0, what="a number of requests"),
                        help=f"fail unless the runner answered this many (default: {DEFAULT_FLOOR:,} at {DEFAULT_EXAMPLES:,} "
                             "examples, in proportion at any other volume)")
    parser.add_argument("--seed", type=number_in(0, what="a seed"), default=1, help="schemathesis's seed (repeatable runs)")
    parser.add_argument("--assembly", type=Path, default=ROOT / "cdk.out")
    parser.add_argument("--report", type=Path, help="write the results into this Markdown file's fuzz section")
    args = parser.parse_args(argv)
    floor = args.min_requests if args.min_requests is not None else math.floor(args.max_examples * REQUESTS_PER_EXAMPLE)
    log = ROOT / "build" / "local" / "fuzz-functions.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    runner = start_runner(args.assembly, log)
    try:
        result = run(runner, max_examples=args.max_examples, seed=args.seed, timeout=3600)
    finally:
        stop_runner(runner)
    print(result.summary)
    print(f"runner answered {result.requests} requests: {dict(sorted(result.served.items()))}")
    problems = []
    if result.exit_code != 0:
        problems.append(f"schemathesis found failures (exit {result.exit_code})")
    if result.server_errors:
        problems.append(f"{result.server_errors} answers were 5xx")
    if result.requests < floor:
        problems.append(f"only {result.requests} requests, fewer than the {floor} that {args.max_examples} examples "
                        "(make fuzz EXAMPLES=) call for")
    for problem in problems:
        print("PROBLEM:", problem)
    if args.report and not problems:  # a failed run never replaces the report of the last good one
        from tools.report import RELIABILITY_HEADER, write_section

        write_section("fuzz", report(result, args.max_examples, args.seed), doc=args.report, header=RELIABILITY_HEADER)
    elif args.report:
        print(f"{args.report} left as it was: this run had problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
