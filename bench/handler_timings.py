"""Cold start and warm overhead of the two handlers (the figures docs/benchmarks.md reports).

    make bench      # writes docs/benchmarks.md

Cold start: a fresh interpreter imports the handler module (which creates its boto3 clients) and
handles its first request, median of RUNS, against the floor of importing boto3, creating the same
clients and making one call; both in a Lambda-like environment with tracing on, AWS stubbed alike.
Warm overhead: the handler's own CPU time per request / per message, AWS calls answered by
botocore's Stubber (no network, no emulator), tracing off; beside the original design's handler
code made to run (bench/original_design.py), stubbed the same way, as the baseline.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


from tools.report import publish
from users import contract

ROOT = Path(__file__).resolve().parent.parent
RUNS = int(os.environ.get("BENCH_RUNS", "15"))
WARM = int(os.environ.get("BENCH_WARM", "2000"))
ENV = {
    **os.environ,
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    contract.ENV_TABLE_NAME: "users-bench",
    contract.ENV_SENDER_ADDRESS: "welcome@archon.example.com",
    contract.ENV_DELIVERY_LEASE_SECONDS: "60",
    contract.ENV_CORS_ORIGINS: "https://app.example.com",
    "POWERTOOLS_TRACE_DISABLED": "1",
    "POWERTOOLS_METRICS_NAMESPACE": "Archon",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "STAGE": "bench",
    contract.ENV_CURSOR_KEY_SECRET: "archon/bench/cursor-key",
    "PYTHONPATH": str(ROOT / "lambda_src"),
    "NOTIFICATION_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/notifications-bench",
}

# Cold start as the first caller waits for it: a fresh interpreter imports the handler module
# (which creates its clients) and handles one request, against the SDK floor of importing boto3,
# creating the same clients and making one call. Both run in an environment like Lambda's (its task
# root, the function's name, a sampled trace header; tracing on, its UDP segments to 127.0.0.1), AWS
# answered by botocore's Stubber on both sides.
LAMBDA_ENV = {
    "LAMBDA_TASK_ROOT": str(ROOT / "lambda_src"),
    "AWS_LAMBDA_FUNCTION_NAME": "archon-bench",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
    "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
    "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
}
COLD_ENV = {**{k: v for k, v in ENV.items() if k != "POWERTOOLS_TRACE_DISABLED"}, **LAMBDA_ENV}
COLD_PRELUDE = """
import json, sys, time
started = time.perf_counter()
from botocore.stub import Stubber
EVENT, ITEM = json.loads(sys.argv[1]), json.loads(sys.argv[2])
class Context:
    function_name = "archon-bench"; memory_limit_in_mb = 1024; aws_request_id = "bench"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:archon-bench"
    def get_remaining_time_in_millis(self): return 10_000
"""
# The SDK floor: boto3, the handler's clients and one call.
FLOOR_API = """
import boto3
client = boto3.client("dynamodb")
with Stubber(client) as stub:
    stub.add_response("transact_write_items", {}, None)
    client.transact_write_items(TransactItems=[{"Put": {"TableName": "users-bench", "Item": {"pk": {"S": "x"}}}}])
"""
FLOOR_SQS = """
import boto3
client = boto3.client("dynamodb")
boto3.client("sesv2")
with Stubber(client) as stub:
    stub.add_response("update_item", {}, None)
    client.update_item(TableName="users-bench", Key={"pk": {"S": "x"}})
"""
# What the handlers' kept features import before any of Archon's code runs: nothing of it can be
# below this, whatever the handler module does. (pydantic's package loads its models' machinery
# only when BaseModel is first asked for, hence the from-import.)
USERS_API_LIBRARIES = """
import aws_lambda_powertools.event_handler, aws_lambda_powertools.event_handler.openapi.params
import aws_lambda_powertools.utilities.idempotency, aws_lambda_powertools.logging, aws_lambda_powertools.metrics
import aws_lambda_powertools.tracing, pydantic.json_schema, email_validator
from pydantic import BaseModel
"""
# The same less pydantic and Powertools' OpenAPI validation: what would be left if request and
# response validation were written by hand.
USERS_API_LIBRARIES_WITHOUT_VALIDATION = """
import aws_lambda_powertools.event_handler
import aws_lambda_powertools.utilities.idempotency, aws_lambda_powertools.logging, aws_lambda_powertools.metrics
import aws_lambda_powertools.tracing, email_validator
assert "pydantic" not in sys.modules
"""
PROCESSOR_LIBRARIES = """
import aws_lambda_powertools.utilities.batch
import aws_lambda_powertools.logging, aws_lambda_powertools.metrics, aws_lambda_powertools.tracing
import email_validator
"""
GC_PAUSED = "import gc\ngc.disable()\n{}\ngc.freeze()\ngc.enable()\n"
# Each entry's ratio is to the floor of its kind: the same clients and the same call.
FLOOR_NAMES = {"api": "floor: boto3, a DynamoDB client, one call", "sqs": "floor: boto3, DynamoDB and SESv2 clients, one call"}
PAUSED_API = "floor, the collector paused for init as the handlers do: boto3, a DynamoDB client, one call"
PAUSED_SQS = "floor, the collector paused for init as the handlers do: boto3, DynamoDB and SESv2 clients, one call"
COLD = {
    "users_api: first POST /users": ("api", """
import handlers.users_api as m
with Stubber(m._dynamodb) as stub:
    stub.add_response("transact_write_items", {}, None)
    assert m.handler(EVENT, Context())["statusCode"] == 201
"""),
    "notifications: first message": ("sqs", """
import handlers.notifications as m
with Stubber(m._dynamodb) as ddb, Stubber(m._ses) as ses:
    ddb.add_response("update_item", {"Attributes": ITEM}, None)
    ses.add_response("send_email", {"MessageId": "m"}, None)
    ddb.add_response("update_item", {}, None)
    assert m.handler(EVENT, Context()) == {"batchItemFailures": []}
"""),
    "original design: first POST /users": ("api", """
import bench.original_design as o
with Stubber(o.processor.dynamodb.meta.client) as ddb, Stubber(o.processor.sqs) as sqs:
    ddb.add_response("put_item", {}, None)
    sqs.add_response("send_message", {"MessageId": "m", "MD5OfMessageBody": "d"}, None)
    o.api_handler(EVENT, Context())
"""),
    "libraries alone: the floor, then importing the users API's libraries": ("api", GC_PAUSED.format(FLOOR_API + USERS_API_LIBRARIES)),
    "libraries alone: the floor, then the users API's libraries less pydantic and the OpenAPI validation": (
        "api", GC_PAUSED.format(FLOOR_API + USERS_API_LIBRARIES_WITHOUT_VALIDATION)),
    "libraries alone: the floor, then importing the processor's libraries": ("sqs", GC_PAUSED.format(FLOOR_SQS + PROCESSOR_LIBRARIES)),
    FLOOR_NAMES["api"]: ("api", FLOOR_API),
    FLOOR_NAMES["sqs"]: ("sqs", FLOOR_SQS),
    # The floors with the cycle collector paused for the init and the init frozen, as the handlers
    # do it (lambda_src/handlers/__init__.py): what the handlers' gap is, less that technique.
    PAUSED_API: ("api", GC_PAUSED.format(FLOOR_API)),
    PAUSED_SQS: ("sqs", GC_PAUSED.format(FLOOR_SQS)),
}
FLOORS = {name: FLOOR_NAMES[kind] for name, (kind, _) in COLD.items() if name not in FLOOR_NAMES.values()}
USER_ID = "0b6f4f8e-5a43-4a8e-9a51-3c0f0d3f6f11"
# The user's item as DynamoDB returns it, for the stubbed reads and claims.
USER_ITEM = {k: {"S": v} for k, v in {contract.PARTITION_KEY: f"{contract.USER_PREFIX}{USER_ID}", "user_id": USER_ID, "name": "Ada", "email": "ada@example.com",
                                     "created_at": "2026-01-01T00:00:00.000Z"}.items()}


def _cold_inputs() -> dict[str, tuple[str, str]]:
    from tests.unit.events import api_event, sqs_event, welcome

    api = api_event("POST", "/users", body={"name": "Ada", "email": "ada@example.com"})
    item = json.dumps(USER_ITEM)
    return {"api": (json.dumps(api), item), "sqs": (json.dumps(sqs_event(welcome(USER_ID, "ada@example.com"))), item)}


def cold() -> dict[str, float]:
    """Median seconds to the first answer, per COLD entry; runs alternate between entries so that
    a change in the machine's speed touches all alike."""
    inputs = _cold_inputs()
    samples: dict[str, list[float]] = {name: [] for name in COLD}
    for _ in range(RUNS):
        for name, (kind, body) in COLD.items():
            code = COLD_PRELUDE + body + "\nprint(time.perf_counter() - started)\n"
            out = subprocess.run([sys.executable, "-c", code, *inputs[kind]], env=COLD_ENV, capture_output=True, text=True)
            if out.returncode:
                raise SystemExit(f"cold start of {name} failed:\n{out.stderr[-3000:]}")
            samples[name].append(float(out.stdout.strip().splitlines()[-1]))
    return {name: statistics.median(values) for name, values in samples.items()}


LAYER_COMPILE = """
import sys, time
import handlers.users_api
tops = set(sys.argv[1].split(","))
modules = [m.__file__ for name, m in list(sys.modules.items())
           if name.split(".")[0] in tops and (getattr(m, "__file__", None) or "").endswith(".py")]
started = time.perf_counter()
for path in modules:
    compile(open(path, "rb").read(), path, "exec")
print(len(modules), time.perf_counter() - started)
"""


def layer_compile(tops: list[str] | None = None) -> tuple[int, float]:
    """What a cold start adds when the layer ships no bytecode: compiling, from source, every module
    of the layer's packages (or of `tops`) that the users API imports (median of RUNS)."""
    tops = tops or sorted({p.name.removesuffix(".py") for p in (ROOT / "build" / "layer" / "python").iterdir()
                           if not p.name.endswith((".dist-info", ".pth")) and p.name != "__pycache__"})
    runs = []
    for _ in range(RUNS):
        out = subprocess.run([sys.executable, "-c", LAYER_COMPILE, ",".join(tops)], env=COLD_ENV, capture_output=True, text=True, check=True)
        count, seconds = out.stdout.strip().splitlines()[-1].split()
        runs.append((int(count), float(seconds)))
    return runs[0][0], statistics.median(seconds for _, seconds in runs)


def cpu_per_call(handler: Any, event: dict[str, Any], ctx: Any, *, calls: int) -> float:
    """The process CPU time of one handler call, averaged over `calls`."""
    started = time.process_time()
    for _ in range(calls):
        handler(event, ctx)
    return (time.process_time() - started) / calls


def warm() -> dict[str, float]:
    os.environ.update({k: v for k, v in ENV.items() if k != "PYTHONPATH"})
    from botocore.stub import ANY, Stubber

    from handlers import notifications, users_api
    from tests.unit.conftest import LambdaContext
    from tests.unit.events import api_event, sqs_event, welcome

    ctx = LambdaContext()
    user_id, item = USER_ID, USER_ITEM
    results = {}

    get_event = api_event("GET", f"/users/{user_id}")
    with Stubber(users_api._dynamodb) as stub:
        for _ in range(WARM):
            stub.add_response("get_item", {"Item": item}, {"TableName": ANY, "Key": ANY, "ConsistentRead": True})
        results["users_api GET /users/{id}"] = cpu_per_call(users_api.handler, get_event, ctx, calls=WARM)

    post_event = api_event("POST", "/users", body={"name": "Ada", "email": "ada@example.com"})
    with Stubber(users_api._dynamodb) as stub:
        for _ in range(WARM):
            stub.add_response("transact_write_items", {}, {"TransactItems": ANY})
        results["users_api POST /users"] = cpu_per_call(users_api.handler, post_event, ctx, calls=WARM)

    batches = max(1, WARM // 10)
    event = sqs_event(*[welcome(user_id, "ada@example.com")] * 10)
    with Stubber(notifications._dynamodb) as ddb, Stubber(notifications._ses) as ses:
        for _ in range(batches * 10):
            ddb.add_response("update_item", {"Attributes": item}, None)
            ses.add_response("send_email", {"MessageId": "m"}, None)
            ddb.add_response("update_item", {}, None)
        # Each message alternates claim, send, mark; the stubs answer in that order.
        results["notifications per message (batches of 10)"] = cpu_per_call(notifications.handler, event, ctx, calls=batches) / 10  # a batch holds 10 messages
    return results


def warm_original() -> dict[str, float]:
    """The same three measurements on the original design's code, stubbed the same way."""
    from botocore.stub import ANY, Stubber

    import bench.original_design as original
    from tests.unit.conftest import LambdaContext
    from tests.unit.events import api_event, sqs_event, welcome

    ctx = LambdaContext()
    user_id = "user_1767225600"
    results = {}
    ddb = original.processor.dynamodb.meta.client
    get_event = api_event("GET", f"/users/{user_id}")
    get_event["pathParameters"] = {"user_id": user_id}
    with Stubber(ddb) as stub:
        for _ in range(WARM):
            stub.add_response("get_item", {"Item": {"user_id": {"S": user_id}, "name": {"S": "Ada"}}}, {"TableName": ANY, "Key": ANY})
        results["users_api GET /users/{id}"] = cpu_per_call(original.api_handler, get_event, ctx, calls=WARM)

    post_event = api_event("POST", "/users", body={"name": "Ada", "email": "ada@example.com"})
    with Stubber(ddb) as stub, Stubber(original.processor.sqs) as sqs:
        for _ in range(WARM):
            stub.add_response("put_item", {}, None)
            sqs.add_response("send_message", {"MessageId": "m", "MD5OfMessageBody": "d"}, None)
        results["users_api POST /users"] = cpu_per_call(original.api_handler, post_event, ctx, calls=WARM)

    batches = max(1, WARM // 10)
    event = sqs_event(*[welcome(user_id, "ada@example.com")] * 10)
    with Stubber(original.ses) as ses:
        for _ in range(batches * 10):
            ses.add_response("send_email", {"MessageId": "m"}, None)
        results["notifications per message (batches of 10)"] = cpu_per_call(original.notification_handler, event, ctx, calls=batches) / 10  # a batch holds 10 messages
    return results


def package_sizes() -> dict[str, tuple[int, int]]:
    """(unzipped, zipped) bytes of what Lambda receives: each function's code asset and the layer,
    found through the dev template's S3 keys in cdk.out."""
    import io
    import zipfile

    template = next((ROOT / "cdk.out").glob("dev-*.template.json"))
    resources = json.loads(template.read_text())["Resources"]
    sizes = {}
    for logical_id, resource in sorted(resources.items()):
        if resource["Type"] == "AWS::Lambda::Function":
            key, label = resource["Properties"]["Code"]["S3Key"], f"code asset ({logical_id[:-8]})"
        elif resource["Type"] == "AWS::Lambda::LayerVersion":
            key, label = resource["Properties"]["Content"]["S3Key"], "dependency layer"
        else:
            continue
        folder = ROOT / "cdk.out" / f"asset.{key.removesuffix('.zip')}"
        buffer = io.BytesIO()
        raw = 0
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(folder.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:  # the local runner's, never deployed
                    raw += path.stat().st_size
                    archive.write(path, path.relative_to(folder))
        sizes[label] = (raw, buffer.tell())
    return sizes


def main() -> None:
    packages = package_sizes()
    colds = cold()
    compiled, compile_seconds = layer_compile()
    own, own_seconds = layer_compile(["handlers", "users"])
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):  # EMF metrics print
        warms = warm()
        baseline = warm_original()
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"{RUNS} cold runs (median), {WARM} warm requests.",
        "",
        "| Cold start (import, clients, first request; Lambda-like environment, tracing on) | median | vs floor |",
        "| --- | --- | --- |",
    ]
    for name, value in colds.items():
        ratio = f"{value / colds[FLOORS[name]]:.2f}x" if name in FLOORS else "1.00x (floor)"
        lines.append(f"| {name} | {value * 1000:.0f} ms | {ratio} |")
    lines += ["", f"Against the floor with the collector paused the same way: users API "
              f"{colds['users_api: first POST /users'] / colds[PAUSED_API]:.2f}x, processor "
              f"{colds['notifications: first message'] / colds[PAUSED_SQS]:.2f}x."]
    lines += ["", f"Without the layer's bytecode (built where no python3.14 was at hand): each cold start also compiles "
              f"{compiled} modules of the layer's packages that the users API imports, {compile_seconds * 1000:.0f} ms here; "
              f"without the code asset's (likewise), its own {own} modules, {own_seconds * 1000:.0f} ms."]
    lines += ["", "| Deployment package (dev template's assets) | unzipped | zipped |", "| --- | --- | --- |"]
    for name, (raw, zipped) in packages.items():
        lines.append(f"| {name} | {raw / 1e6:.2f} MB | {zipped / 1e6:.2f} MB |")
    lines += ["", "| Warm overhead (handler CPU, AWS stubbed) | Archon | original design | Archon / original |", "| --- | --- | --- | --- |"]
    for name, value in warms.items():
        lines.append(f"| {name} | {value * 1e6:.0f} µs | {baseline[name] * 1e6:.0f} µs | {value / baseline[name]:.2f}x |")
    measured = ROOT / "build" / "bench" / "handlers.json"  # the cost model's input
    measured.parent.mkdir(parents=True, exist_ok=True)
    measured.write_text(json.dumps({"archon": warms, "original": baseline, "cold": colds}, indent=2))
    publish("handlers", "Handlers: cold start and warm overhead", lines,
            "Cold start is measured locally (x86_64, CPython 3.11), not on Lambda's arm64 Python 3.14; "
            "the ratio to the boto3 floor is the figure that transfers. The environment is Lambda's as far as the "
            "libraries look (`LAMBDA_TASK_ROOT`, the function's name, a sampled trace header), which matters: outside "
            "Lambda the X-Ray SDK creates a client for centralised sampling at import. On Lambda the handlers pause "
            "the cycle collector while their module is imported and freeze what the import made "
            "(`lambda_src/handlers/__init__.py`): a plain import runs it over and over across the growing heap of "
            "objects that live as long as the environment. The floor rows do not, as the floor is plain boto3; "
            "the 'collector paused' rows give the same floors with that technique, and the 'libraries alone' rows "
            "use it too, as the handlers do. Most of the remaining gap "
            "is the libraries behind the handlers' features: the 'libraries alone' rows make the floor's call and then "
            "only import them (Powertools' resolver with OpenAPI validation, idempotency, batch processing, "
            "logger, metrics and tracer; pydantic, which only the users API loads; email-validator with its IDNA "
            "tables), before any of Archon's code runs. The "
            "original design's module creates four clients and a resource at import (sqs, sns, s3, ses, dynamodb), "
            "so it is no lighter. On Lambda, /opt and /var/task are read-only: code without bytecode is compiled at "
            "every cold start, so `make layer` compiles the layer, and the synth the functions' code "
            "(`cdk_app/packaging.py`), with the runtime's Python where one is at hand (the deploy workflow installs it). "
            "Lambda's limits are 50 MB zipped per upload and 250 MB unzipped for a function with its layers; "
            "boto3 is not shipped (the runtime provides it).\n\n"
            "Warm overhead: the original's API handler is the slower one, for its structure: it starts an asyncio "
            "event loop per request (`asyncio.run` around its async methods) and goes through boto3's resource "
            "layer, while doing less (one write and one SQS send per create; no validation, uniqueness guard, "
            "idempotency, structured logs or metrics). Per message Archon costs more: it claims, sends and marks "
            "(three calls, Powertools' batch processing with partial failures) where the original only sends, "
            "which is how it never sends a welcome email twice.")


if __name__ == "__main__":
    main()
