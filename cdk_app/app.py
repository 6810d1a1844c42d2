"""Builds the Archon app: a Stage per (stage, region), each checked by cdk-nag."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk

from cdk_app.config import CONFIG_FILE, load_stages
from cdk_app.nag import apply_nag
from cdk_app.stack import UsersServiceStage


def build_app(app: cdk.App, *, only: str | None = None, config_file: Path = CONFIG_FILE) -> list[UsersServiceStage]:
    stages = []
    for stage in load_stages(config_file, only=only):
        for region in stage.aws_regions:
            stages.append(UsersServiceStage(app, stage=stage, region=region))
    apply_nag(app)
    return stages
