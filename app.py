#!/usr/bin/env python3
"""CDK entry: one stack per (stage, AWS region) in config/stages.yaml, named <stage>-<region>.

`cdk synth` builds every stage; `cdk synth -c stage=prod` (make synth STAGE=prod) just one, and
then `cdk ls`, `cdk diff` and `cdk deploy --all` act on that stage's stacks only;
`-c config=other.yaml` reads another config file.
"""

import json
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

from cdk_app.config import CONFIG_FILE, ConfigError, load_raw, stages_from


def cli_context() -> dict[str, Any]:
    """The context the CDK CLI hands the app (cdk.json's and -c's), as aws_cdk's App reads it:
    JSON in CDK_CONTEXT_JSON, what did not fit in a file CONTEXT_OVERFLOW_LOCATION_ENV names."""
    context = json.loads(os.environ.get("CDK_CONTEXT_JSON") or "{}")
    overflow = os.environ.get("CONTEXT_OVERFLOW_LOCATION_ENV")
    if overflow:
        context.update(json.loads(Path(overflow).read_text()))
    return context


def fail(exc: ConfigError) -> NoReturn:
    print(f"error: {exc}", file=sys.stderr)
    sys.exit(1)


def main() -> None:
    # The stage and config are checked before aws_cdk is imported, which starts the jsii runtime
    # (seconds): a mistyped stage or a broken config fails at once.
    context = cli_context()
    config_file, only = Path(context["config"]) if context.get("config") else CONFIG_FILE, context.get("stage")
    try:
        raw = load_raw(config_file)
        stages = stages_from(raw, path=config_file, only=only)
    except ConfigError as exc:
        fail(exc)
    if only and stages[0].cloud_provider != "aws":
        fail(ConfigError(f"stage {only}: its primary cloud is {stages[0].cloud_provider} (config/stages.yaml, cloud_provider), so this "
                         "app has no stack for it: the Terraform sidecar deploys it (README, \"The service on GCP\"); "
                         "make run CLOUD=gcp runs it locally"))

    import aws_cdk as cdk

    from cdk_app.app import build_app
    from cdk_app.checks import fail_on_unacknowledged

    app = cdk.App()
    try:
        build_app(app, only=only, config_file=config_file, raw=raw)
    except ConfigError as exc:
        fail(exc)
    fail_on_unacknowledged(app.synth().directory)


if __name__ == "__main__":
    main()
