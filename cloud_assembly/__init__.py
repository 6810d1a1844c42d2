"""Reading a synthesised cloud assembly (cdk.out): the one reader the local runner's wiring, the
synth review and the snapshot test share.

It knows the assembly's manifests (top-level stacks, and stacks in nested Stage assemblies as
older versions of this app wrote them), the file assets `cdk deploy` uploads, the API's resource
paths, and which parts of a template are hashes that change with every build.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class AssemblyError(Exception):
    """The assembly is missing or unreadable; the message names the file."""


@dataclass
class StackArtifact:
    artifact_id: str  # what `cdk deploy` calls it: dev-us-east-1
    stack_name: str  # what CloudFormation calls it: archon-dev-us-east-1
    region: str
    template_file: Path

    @functools.cached_property
    def template(self) -> dict[str, Any]:
        """Read when first asked for: a caller looking for one stack reads one template."""
        return read_json(self.template_file)


def read_json(path: Path) -> dict[str, Any]:
    try:
        return dict(json.loads(path.read_text()))
    except FileNotFoundError:
        raise AssemblyError(f"{path} not found") from None
    except (OSError, ValueError) as exc:
        raise AssemblyError(f"{path} is unreadable ({exc.__class__.__name__})") from None


def stacks(directory: Path) -> list[StackArtifact]:
    """Every CloudFormation stack of the assembly, in manifest order, nested assemblies included."""
    found = []
    for artifact_id, artifact in read_json(directory / "manifest.json").get("artifacts", {}).items():
        if artifact.get("type") == "aws:cloudformation:stack":
            template_file = directory / artifact["properties"]["templateFile"]
            found.append(StackArtifact(
                artifact_id=artifact_id,
                stack_name=artifact["properties"].get("stackName") or artifact.get("displayName", artifact_id),
                region=artifact.get("environment", "").rsplit("/", 1)[-1],
                template_file=template_file,
            ))
        elif artifact.get("type") == "cdk:cloud-assembly":
            found += stacks(directory / artifact["properties"]["directoryName"])
    return found


def file_assets(directory: Path) -> dict[str, str]:
    """S3 object key -> source path, from the assembly's asset manifests (what `cdk deploy` uploads)."""
    keys = {}
    for manifest in directory.glob("*.assets.json"):
        for asset in read_json(manifest).get("files", {}).values():
            for destination in asset.get("destinations", {}).values():
                keys[destination["objectKey"]] = asset["source"]["path"]
    return keys


def api_resource_paths(resources: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Logical id of each AWS::ApiGateway::Resource -> its path, such as /users/{user_id}."""
    parents = {k: r.get("Properties", {}) for k, r in resources.items() if r["Type"] == "AWS::ApiGateway::Resource"}

    def path_of(logical_id: str, seen: frozenset[str] = frozenset()) -> str:
        props = parents[logical_id]
        parent = props.get("ParentId")
        parent_id = parent.get("Ref") if isinstance(parent, dict) else None
        base = path_of(parent_id, seen | {logical_id}) if parent_id in parents and parent_id not in seen else ""
        return f"{base}/{props.get('PathPart', '')}"

    return {k: path_of(k) for k in parents}


ASSET_HASH = re.compile(r"\b[0-9a-f]{64}\b")
_DEPLOYMENT_ID = re.compile(r"(ApiDeployment[0-9A-F]{8})[0-9a-f]{32}")
_VERSION_ID = re.compile(r"(CurrentVersion[0-9A-F]{8})[0-9a-f]{32}")


def mask_build_hashes(template: dict[str, Any]) -> dict[str, Any]:
    """The template with what changes on every build masked: asset hashes (in S3 keys and asset
    paths), API deployment ids, which CDK derives from the API's whole definition, and published
    function versions' ids, which it derives from the function's code and configuration."""
    text = ASSET_HASH.sub("<asset-hash>", json.dumps(template, sort_keys=True))
    text = _DEPLOYMENT_ID.sub(r"\1<deployment-hash>", text)
    return dict(json.loads(_VERSION_ID.sub(r"\1<version-hash>", text)))


def resolve(value: Any, *, account: str, partition: str = "aws", region: str = "us-east-1",
            refs: dict[str, Any] | None = None) -> Any:
    """A template value as CloudFormation would deploy it into `account`: the pseudo parameters,
    Ref, Fn::GetAtt (from `refs`, what a Ref or GetAtt of a resource returns), Fn::Join and a
    string Fn::Sub of pseudo parameters filled in; anything else is left as it is."""
    refs = refs or {}
    pseudo = {"AWS::Partition": partition, "AWS::AccountId": account, "AWS::Region": region, "AWS::URLSuffix": "amazonaws.com"}

    def walk(item: Any) -> Any:
        if isinstance(item, list):
            return [walk(v) for v in item]
        if not isinstance(item, dict):
            return item
        if set(item) == {"Ref"}:
            return pseudo.get(item["Ref"], refs.get(item["Ref"], item))
        if set(item) == {"Fn::GetAtt"}:
            return refs.get(".".join(item["Fn::GetAtt"]), item)
        if set(item) == {"Fn::Join"}:
            separator, parts = item["Fn::Join"]
            return separator.join(str(walk(p)) for p in parts)
        if set(item) == {"Fn::Sub"} and isinstance(item["Fn::Sub"], str):
            text = item["Fn::Sub"]
            for key, real in pseudo.items():
                text = text.replace("${" + key + "}", real)
            return text
        return {k: walk(v) for k, v in item.items()}

    return walk(value)
