"""Cold start of the GCP users API function against its SDK floor, measured as the AWS rows are
(bench/handler_timings.py): a fresh interpreter imports the function's module (which creates its
Firestore client, builds the routes and reads its settings) and handles its first request, median
of RUNS, against the floor of importing google-cloud-firestore, creating one client and making one
call. Both talk to the Firestore emulator on loopback; the function's first request also fetches
the issuer's JWKS (a local issuer on loopback), as it fetches the real issuer's once per instance.

    .venv/bin/python bench/gcp_cold_start.py     # writes its section of docs/benchmarks.md (make bench)
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from tools.report import publish
from users import contract

ROOT = Path(__file__).resolve().parent.parent
RUNS = int(os.environ.get("BENCH_RUNS", "15"))
PROJECT = "archon-bench"

# The function as Cloud Run runs it: functions-framework's app of main.py, one GET through it.
FUNCTION = """
import sys, time
started = time.perf_counter()
import functions_framework
app = functions_framework.create_app("users_api", sys.argv[1], "http")
reply = app.test_client().get("/users/" + sys.argv[3], headers={"Authorization": "Bearer " + sys.argv[2]})
assert reply.status_code == 404, reply.data
print(time.perf_counter() - started)
"""
# The SDK floor: google-cloud-firestore, one client, one call.
FLOOR = """
import sys, time
started = time.perf_counter()
from google.cloud import firestore
client = firestore.Client(project=sys.argv[4], database="(default)")
assert not client.collection("users").document(sys.argv[3]).get().exists
print(time.perf_counter() - started)
"""
ROWS = {"users API function: import, clients, routes, first request (GET, 404, JWKS fetched)": FUNCTION,
        "floor: google-cloud-firestore, one client, one call": FLOOR}


def main() -> None:
    from local_runner.gcp.emulators import START_TIMEOUT_SECONDS, Emulator, find_emulators, free_port
    from local_runner.gcp.issuer import LocalIssuer

    workdir = Path(tempfile.mkdtemp(prefix="gcp-bench-"))
    port = free_port()
    emulator = Emulator("Firestore", find_emulators().firestore_command(port), port, workdir / "firestore.log")
    issuer = LocalIssuer(clients={"bench": (contract.READ_SCOPE, contract.CREATE_SCOPE)}, audience="archon-bench-users-api")
    try:
        emulator.wait_ready(time.monotonic() + START_TIMEOUT_SECONDS)
        (client,) = issuer.clients
        token = issuer.token(client_id=client.client_id, secret=client.secret, scope=None)["access_token"]
        key_file = workdir / "cursor-key.json"
        key_file.write_text(json.dumps({"current": "bench-key-0123456789abcdef0123456789"}))
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("COV")},
               "FIRESTORE_EMULATOR_HOST": emulator.host, "STAGE": "bench", "POWERTOOLS_SERVICE_NAME": "archon-bench",
               "POWERTOOLS_METRICS_NAMESPACE": "Archon", "POWERTOOLS_LOG_LEVEL": "WARNING",
               contract.ENV_GCP_PROJECT: PROJECT, contract.ENV_FIRESTORE_DATABASE: "(default)",
               contract.ENV_TOKEN_ISSUER: issuer.url, contract.ENV_TOKEN_JWKS_URL: issuer.jwks_url,
               contract.ENV_TOKEN_AUDIENCE: issuer.audience, contract.ENV_CURSOR_KEY_FILE: str(key_file),
               contract.ENV_CREATES_PER_CALLER_PER_HOUR: "500"}
        entry = str(ROOT / "lambda_src" / "handlers" / "gcp" / "main.py")
        samples: dict[str, list[float]] = {name: [] for name in ROWS}
        for _ in range(RUNS):  # alternating, so a change in the machine's speed touches both alike
            for name, code in ROWS.items():
                out = subprocess.run([sys.executable, "-c", code, entry, token, str(uuid.uuid4()), PROJECT], env=env,
                                     capture_output=True, text=True, cwd=ROOT)
                if out.returncode:
                    raise SystemExit(f"{name} failed:\n{out.stderr[-3000:]}")
                samples[name].append(float(out.stdout.strip().splitlines()[-1]))
    finally:
        issuer.stop()
        emulator.stop()
    medians = {name: statistics.median(values) for name, values in samples.items()}
    floor = medians[list(ROWS)[1]]
    lines = [f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; {RUNS} cold runs (median).", "",
             "| Cold start (fresh interpreter, Firestore emulator on loopback) | median | vs floor |", "| --- | --- | --- |"]
    lines += [f"| {name} | {value * 1000:.0f} ms | {value / floor:.2f}x |" for name, value in medians.items()]
    publish("gcp-cold-start", "Cold start on GCP: the users API function against its SDK floor", lines,
            "The function's row is what the first request to a new Cloud Run instance waits for beyond the runtime's own "
            "start: functions-framework, Powertools' resolver and its OpenAPI models, pydantic, PyJWT, the Firestore client, "
            "the routes' scopes read from the OpenAPI document, and one request with the JWKS fetch. The floor is the least any "
            "Firestore-backed function pays. On Cloud Run the figures scale with the instance's CPU (a 1024 MiB function gets a "
            "whole vCPU); the ratio is the figure that transfers. Produced by `bench/gcp_cold_start.py` (`make bench`).")


if __name__ == "__main__":
    main()
