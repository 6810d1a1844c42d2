"""The users API's init and first request as they run on Lambda: every AWS call the handler makes
is a subsegment of its trace, nothing but botocore is instrumented (the rest only costs cold-start
time), and the init's objects are out of the cycle collector's way."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from tests.unit.events import api_event
from tools.runner_client import ROOT

pytestmark = pytest.mark.slow

FIRST_REQUEST = """
import gc, json, sys
from botocore.stub import Stubber
import handlers.users_api as m
class Context:
    function_name = "archon-users-api-test"; memory_limit_in_mb = 1024; aws_request_id = "r-1"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:archon-users-api-test"
    def get_remaining_time_in_millis(self): return 10_000
with Stubber(m._dynamodb) as stub:
    stub.add_response("transact_write_items", {}, None)
    assert m.handler(json.loads(sys.argv[1]), Context())["statusCode"] == 201
print(json.dumps({"instrumented": sorted(name for name in ("requests", "httpx", "sqlite3", "pymongo", "psycopg2") if name in sys.modules),
                  "collector_enabled": gc.isenabled(), "frozen": gc.get_freeze_count(), "tracked": len(gc.get_objects())}))
"""


@pytest.fixture(scope="module")
def first_request(synth, tmp_path_factory) -> tuple[dict, list[str]]:
    """A fresh interpreter in Lambda's environment imports the users API and handles one POST:
    what it printed, and the trace segments it sent to the X-Ray daemon's address."""
    from local_runner.wiring import load_wiring

    # Powertools' settings as the template gives them to the function (what traces may capture).
    configured = load_wiring(synth.outdir, "dev").function_by_name("archon-users-api-dev").environment
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as daemon:
        daemon.bind(("127.0.0.1", 0))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "COVERAGE_"))}
        env.update({k: v for k, v in configured.items() if k.startswith("POWERTOOLS_")})
        env.update(PYTHONPATH=str(ROOT / "lambda_src"), LAMBDA_TASK_ROOT=str(tmp_path_factory.mktemp("task")),
                   AWS_LAMBDA_FUNCTION_NAME="archon-users-api-test",
                   _X_AMZN_TRACE_ID="Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
                   AWS_XRAY_DAEMON_ADDRESS="127.0.0.1:%d" % daemon.getsockname()[1])
        event = api_event("POST", "/users", body={"name": "Ada", "email": "ada@example.com"})
        result = subprocess.run([sys.executable, "-c", FIRST_REQUEST, json.dumps(event)], env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr[-3000:]
        sent = []
        daemon.settimeout(0.5)  # the process has ended: whatever it sent is waiting in the socket
        try:
            while True:
                sent.append(daemon.recv(65536).decode())
        except socket.timeout:
            pass
    return json.loads(result.stdout.strip().splitlines()[-1]), sent


def test_the_users_api_traces_its_dynamodb_call_and_instruments_nothing_else(first_request) -> None:
    printed, sent = first_request
    assert printed["instrumented"] == []
    documents = [json.loads(datagram.split("\n", 1)[1]) for datagram in sent]

    def subsegments(entity):
        for child in entity.get("subsegments", []):
            yield child
            yield from subsegments(child)

    calls = [s for d in documents for s in [d, *subsegments(d)] if s.get("namespace") == "aws"]
    assert [(c["name"], c["aws"]["operation"]) for c in calls] == [("dynamodb", "TransactWriteItems")]
    assert "ada@example.com" not in "".join(sent), "traces carry no caller data"


def test_the_init_is_frozen_out_of_the_cycle_collectors_way_and_collection_resumes(first_request) -> None:
    """Collected during the import, the init's objects were traversed again at every full collection
    for the environment's life; frozen, they are not, and nothing else changes."""
    printed, _ = first_request
    assert printed["collector_enabled"] is True
    assert printed["frozen"] > 10 * printed["tracked"], printed  # nearly all objects are the init's
