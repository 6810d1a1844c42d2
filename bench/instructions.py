"""Instructions per request through the local runner's layers, counted by valgrind's callgrind.

    make bench          # all benchmarks; this one alone: .venv/bin/python bench/instructions.py

Requests per second on this machine swing up to 3x with its speed (bench/runner.py shows the
probe); an instruction count does not: the same code on the same interpreter counts the same on
every run, whatever else the machine is doing. So this is the yardstick for "did that change make
a request cheaper". One process under callgrind starts the runner's service (no HTTP, no pollers),
then calls each step BENCH_CALLS times; callgrind dumps its count before every getppid(), which
marks the steps apart. About 3 minutes; needs valgrind (Debian: apt-get install valgrind).
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tools.report import publish, require_dev_assembly
from bench.runner import get_path

ROOT = Path(__file__).resolve().parent.parent

CALLS = int(os.environ.get("BENCH_CALLS", "200"))
WARM_UP = 20  # first calls fill caches (botocore's, moto's, Powertools'); not counted


def mark() -> None:
    os.getppid()  # callgrind runs with --dump-before=getppid: each call closes a counted step


def steps(service: Any) -> dict[str, Callable[[], object]]:
    """The GET path layer by layer, a POST through the gateway, and the user store's own calls
    straight to the same emulator (the direct baseline of bench/runner.py)."""
    from adapters.aws.users_table import DynamoDBUserStore
    from users.models import User

    headers = [("Authorization", f"Bearer {service.token()['token']}"), ("Content-Type", "application/json")]
    store = DynamoDBUserStore(client=service.emulator.client("dynamodb"), table_name=service.wiring.table.name,
                              region=service.wiring.region)

    def post() -> object:
        body = json.dumps({"name": "Counted", "email": f"counted-{uuid.uuid4()}@example.com"}).encode()
        response = service.api.handle(method="POST", target="/users", headers=headers, body=body)
        if response.status != 201:  # as get_path checks its GET
            raise SystemExit(f"POST /users answered {response.status}: {response.body[:200]!r}")
        return response

    def insert() -> str:
        new_id = str(uuid.uuid4())
        return store.insert(User(user_id=new_id, name="Direct", email=f"{new_id}@example.com", created_at="2026-01-01T00:00:00.000Z"),
                            email_key=f"{new_id}@example.com")

    direct_id = insert()
    return {**{f"GET: {name}": step for name, step in get_path(service).items()},
            "POST /users: the gateway and everything under it": post,
            "direct: GetItem through the user store on the same emulator": lambda: store.get(direct_id),
            "direct: TransactWriteItems (user + email guard) through the user store": insert}


def inside(names_file: Path, calls: int) -> None:
    """Runs under callgrind: sets up, warms every step, then one counted stretch per step."""
    from local_runner.runner import LocalService, Options

    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the functions' logs
    service = LocalService(Options(assembly=ROOT / "cdk.out"))
    service.start(workers=False)
    try:
        counted = steps(service)
        for step in counted.values():
            for _ in range(WARM_UP):
                step()
        for step in counted.values():
            mark()
            for _ in range(calls):
                step()
        mark()
    finally:
        service.stop()
    names_file.write_text(json.dumps(list(counted)))


def count(calls: int) -> dict[str, float]:
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("valgrind is not installed: apt-get install valgrind (Debian), then run again")
    with tempfile.TemporaryDirectory() as tmp:
        out, names_file = Path(tmp) / "cg.out", Path(tmp) / "names.json"
        run = subprocess.run([valgrind, "--tool=callgrind", "--dump-before=getppid", f"--callgrind-out-file={out}",
                              sys.executable, __file__, "--inside", str(names_file), str(calls)],
                             cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
        if run.returncode != 0 or not names_file.exists():
            raise SystemExit(f"the counted run failed (exit {run.returncode}):\n{run.stderr[-2000:]}")
        names = json.loads(names_file.read_text())
        dumps = sorted(Path(tmp).glob("cg.out.*"), key=lambda p: int(p.suffix[1:]))
        # dump 1: start-up and warm-up; then one per step; what follows the last mark is in cg.out.
        if len(dumps) != len(names) + 1:
            raise SystemExit(f"expected {len(names) + 1} callgrind dumps, got {len(dumps)}: something else called getppid()")
        totals = [int(re.search(r"^totals: (\d+)", d.read_text(), re.M).group(1)) for d in dumps[1:]]  # type: ignore[union-attr]
    return {name: total / calls for name, total in zip(names, totals)}


def main() -> None:
    require_dev_assembly()
    counts = count(CALLS)
    get_rows = [(name, n) for name, n in counts.items() if name.startswith("GET: ")]
    lines = [
        f"Machine: {platform.machine()}; Python {platform.python_version()} ({platform.python_implementation()}, the project venv); "
        f"valgrind's callgrind, {CALLS} calls per step after {WARM_UP} to warm up.", "",
        "| Step | instructions per call (millions) | its own |", "| --- | --- | --- |",
    ]
    below = [n for _, n in get_rows[1:]] + [0.0]
    for (name, n), under in zip(get_rows, below):
        lines.append(f"| {name} | {n / 1e6:.2f} | {(n - under) / 1e6:.2f} |")
    for name, n in counts.items():
        if not name.startswith("GET: "):
            lines.append(f"| {name} | {n / 1e6:.2f} | |")
    get_total, post_total = get_rows[0][1], counts["POST /users: the gateway and everything under it"]
    get_direct = counts["direct: GetItem through the user store on the same emulator"]
    post_direct = counts["direct: TransactWriteItems (user + email guard) through the user store"]
    lines += ["", f"A GET through the runner (no HTTP) costs {get_total / get_direct:.1f}x the instructions of its GetItem alone; "
              f"a POST {post_total / post_direct:.1f}x its TransactWriteItems."]
    notes = (
        "Counts, not seconds: three runs here gave the same figures to 0.01 million (PYTHONHASHSEED is fixed; "
        "ids are random, so a little varies), so compare them before and after a change, on the same "
        "interpreter. They depend on the interpreter's build: here Debian's /usr/bin/python3.11 (3.11.2) ran the "
        "GET in 2.70 million, 13% fewer than the pyenv build above. HTTP (uvicorn, the client) is not in them; "
        "bench/runner.py measures whole requests per second. The POST row is the create path without an "
        "Idempotency-Key (TransactWriteItems of user and email guard, the 201 response); the pollers are off, "
        "so no welcome email is sent inside the count."
    )
    publish("instructions", "Instructions per request (local runner, callgrind)", lines, notes)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--inside"]:
        inside(Path(sys.argv[2]), int(sys.argv[3]))
    else:
        main()
