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

def normalise(template: dict[str, Any]) -> dict[str, Any]:
    return mask_build_hashes(template)


def test_normalise_masks_hashes_only():
    before = {"Resources": {"ApiDeploymentFE1E7282d1b877045224111e472d29394f13bac0": {"S3Key": "a" * 64 + ".zip", "Name": "users-dev"},
                            "UsersApiFunctionCurrentVersionB57FD4451499e98a30f515b09c2df5e9afec5c00": {"Name": "v"}}}
    assert normalise(before) == {"Resources": {"ApiDeploymentFE1E7282<deployment-hash>": {"S3Key": "<asset-hash>.zip", "Name": "users-dev"},
                                               "UsersApiFunctionCurrentVersionB57FD445<version-hash>": {"Name": "v"}}}


NAMES = [f"{s.name}-{r}" for s in load_stages() for r in s.aws_regions]


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("name", NAMES)
def test_snapshot(synth, snapshot_json, name):
    assert normalise(synth.templates[name]) == snapshot_json
