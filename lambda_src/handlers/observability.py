"""What every handler sets up once per execution environment: its logger, tracer and metrics, and
the retries of its AWS clients.

A function, not module-level objects: the local runner imports both handlers into one interpreter,
each under its own function's environment (service name, log level, namespace), so each handler
module makes its own.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics, Tracer
from botocore.config import Config

# Standard retries absorb short throttling bursts before a handler answers 503 or retries the message.
RETRIES = Config(retries={"mode": "standard", "max_attempts": 3})


def observability() -> tuple[Logger, Tracer, Metrics]:
    logger = Logger()
    # Every AWS call goes through botocore, so only it is instrumented: patching all of X-Ray's
    # supported libraries would import requests and others at every cold start, for nothing.
    tracer = Tracer(patch_modules=["botocore"])
    metrics = Metrics()
    # Stages may share an account and region; the dashboards and alarms select theirs by this.
    metrics.set_default_dimensions(stage=os.environ["STAGE"])
    return logger, tracer, metrics
