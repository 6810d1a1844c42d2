"""Refuses, in one line, a stage whose primary cloud is not GCP: the GCP deploy workflow's first
check, so a dispatch for an AWS stage fails before anything is installed or authenticated.

    python -m scripts.gcp_stage STAGE
"""

from __future__ import annotations

import sys

from cdk_app.config import ConfigError, load_stages


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m scripts.gcp_stage STAGE", file=sys.stderr)
        return 2
    try:
        (stage,) = load_stages(only=argv[0])
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if stage.cloud_provider != "gcp":
        print(f"error: stage {stage.name}'s primary cloud is {stage.cloud_provider} (config/stages.yaml, cloud_provider): "
              "the deploy workflow deploys it, not deploy-gcp", file=sys.stderr)
        return 1
    print(f"stage {stage.name} runs on GCP, project {stage.gcp.project_id if stage.gcp else '?'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
