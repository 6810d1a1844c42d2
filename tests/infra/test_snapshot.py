"""One normalised snapshot per (stage, region), for review in pull requests.

Asset hashes and hash-bearing logical ids are masked so that a code-only change does not churn
them. After reviewing a template change: `make snapshot`.
"""

from __future__ import annotations

from typing import Any

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from cdk_app.config import load_stages
from cloud_assembly import mask_build_hashes

# What the CDK CLI writes into each resource's Metadata for its own tools (construct paths, asset
# locations): nothing CloudFormation deploys, and noise in a review.
CLI_METADATA = ("aws:cdk:path", "aws:asset:")


def normalise(template: dict[str, Any]) -> dict[str, Any]:
    template = mask_build_hashes(template)
    for resource in template.get("Resources", {}).values():
        metadata = {k: v for k, v in resource.pop("Metadata", {}).items() if not k.startswith(CLI_METADATA)}
        if metadata:
            resource["Metadata"] = metadata
    return template


def test_normalise_masks_hashes_and_drops_only_the_clis_metadata():
    before = {"Resources": {"ApiDeploymentFE1E7282d1b877045224111e472d29394f13bac0": {"S3Key": "a" * 64 + ".zip", "Name": "users-dev",
                                                                                     "Metadata": {"aws:cdk:path": "dev/Api/Deployment"}},
                            "UsersApiFunctionCurrentVersionB57FD4451499e98a30f515b09c2df5e9afec5c00": {"Name": "v"},
                            "Fn": {"Metadata": {"aws:asset:path": "asset.x", "checkov": {"skip": [{"id": "CKV_AWS_1"}]}}}}}
    assert normalise(before) == {"Resources": {"ApiDeploymentFE1E7282<deployment-hash>": {"S3Key": "<asset-hash>.zip", "Name": "users-dev"},
                                               "UsersApiFunctionCurrentVersionB57FD445<version-hash>": {"Name": "v"},
                                               "Fn": {"Metadata": {"checkov": {"skip": [{"id": "CKV_AWS_1"}]}}}}}


NAMES = [f"{s.name}-{r}" for s in load_stages() for r in s.aws_regions]


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("name", NAMES)
def test_snapshot(synth, snapshot_json, name):
    assert normalise(synth.templates[name]) == snapshot_json
