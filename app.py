#!/usr/bin/env python3
"""CDK entry: one stack per (stage, AWS region) in config/stages.yaml, named <stage>-<region>.

`cdk synth` builds every stage; `cdk synth -c stage=prod` (make synth STAGE=prod) just one, and
then `cdk ls`, `cdk diff` and `cdk deploy --all` act on that stage's stacks only;
`-c config=other.yaml` reads another config file.
"""

import sys
from pathlib import Path

import aws_cdk as cdk

from cdk_app.app import build_app
from cdk_app.checks import fail_on_unacknowledged
from cdk_app.config import ConfigError


def main() -> None:
    app = cdk.App()
    try:
        config = app.node.try_get_context("config")
        build_app(app, only=app.node.try_get_context("stage"), **({"config_file": Path(config)} if config else {}))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    fail_on_unacknowledged(app.synth().directory)


if __name__ == "__main__":
    main()
