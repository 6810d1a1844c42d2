"""The emulator yardstick given beside the prototype reference's throughput, measured again now.

The reference states the prototype's rates (606 GET/s, 156 POST/s at one connection) next to what
stock moto did in-process on the same machine: ~0.6 s to start and ~700 DynamoDB ops/s. This
machine's speed differs up to 3x between days, so bench/runner.py runs this script and scales the
prototype's rates by how fast the same yardstick runs today.

    .tools/yardstick/bin/python bench/yardstick.py   # stock moto 5.2.5 (make bench sets it up)
    .venv/bin/python bench/yardstick.py              # stock moto 5.1.22, the runner's pin

Stock means none of the runner's fast paths (local_runner/emulator.py is not imported): a plain
boto3 client on `mock_aws`, as a prototype would have used it. Prints one JSON object.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import uuid

STARTS = int(os.environ.get("YARDSTICK_STARTS", "5"))
ROUNDS = int(os.environ.get("YARDSTICK_ROUNDS", "3"))
OPS = int(os.environ.get("YARDSTICK_OPS", "1000"))
ENV = {"AWS_ACCESS_KEY_ID": "yardstick", "AWS_SECRET_ACCESS_KEY": "yardstick", "AWS_DEFAULT_REGION": "us-east-1"}
TABLE = "users-yardstick"

# A fresh interpreter: import boto3 and moto, start the mock, make the first call.
START = """
import time; started = time.perf_counter()
import boto3
from moto import mock_aws
mock_aws().start(); boto3.client("dynamodb").list_tables()
print(time.perf_counter() - started)
"""


def start_seconds() -> float:
    """Median of STARTS fresh interpreters."""
    samples = [float(subprocess.run([sys.executable, "-c", START], env={**os.environ, **ENV}, capture_output=True, text=True,
                                    check=True).stdout) for _ in range(STARTS)]
    return statistics.median(samples)


def dynamodb_ops_per_second() -> float:
    """PutItem then GetItem of OPS small users through one client; the median of ROUNDS rounds."""
    os.environ.update(ENV)
    import boto3
    from moto import mock_aws

    rates = []
    with mock_aws():
        client = boto3.client("dynamodb")
        client.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
        for _ in range(ROUNDS):
            ids = [str(uuid.uuid4()) for _ in range(OPS)]
            started = time.perf_counter()
            for user_id in ids:
                client.put_item(TableName=TABLE, Item={"pk": {"S": user_id}, "name": {"S": "Ada"}, "email": {"S": f"{user_id}@example.com"}})
            for user_id in ids:
                client.get_item(TableName=TABLE, Key={"pk": {"S": user_id}})
            rates.append(2 * OPS / (time.perf_counter() - started))
    return statistics.median(rates)


def main() -> None:
    from importlib.metadata import version

    print(json.dumps({"moto": version("moto"), "start_s": start_seconds(), "dynamodb_ops": dynamodb_ops_per_second()}))


if __name__ == "__main__":
    main()
