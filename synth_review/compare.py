"""Compare two cloud assemblies, stack by stack, into a Report.

Noise is masked before comparing: asset hashes (a code-only change reads "function code
changed"), API Gateway deployment logical ids (CDK renames them on every API change), CDK
metadata. What is left is compared property by property and classified with synth_review.rules.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import cloud_assembly

from synth_review.api_contract import ApiChange
from synth_review.rules import (
    IGNORED_TYPES, POLICY_DOCUMENTS, SECURITY_PATHS, SECURITY_TYPES, STATEFUL, replacing_properties,
)



class ReviewError(Exception):
    """A problem the user can fix (missing assembly, unknown ref, failed synth)."""


@dataclass(frozen=True)
class Change:
    logical_id: str
    type: str
    label: str  # the construct path, or "GET /users" for API methods
    kind: str  # added | removed | modified | replaced
    paths: tuple[str, ...] = ()
    replaced_by: tuple[str, ...] = ()  # the properties that force replacement
    code_changed: bool = False


@dataclass(frozen=True)
class Finding:
    category: str  # destructive | iam | security
    stack: str
    label: str
    message: str


@dataclass
class Report:
    base: str
    head: str
    stacks_added: list[str] = field(default_factory=list)
    stacks_removed: list[str] = field(default_factory=list)
    changes: dict[str, list[Change]] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    api: list[ApiChange] | None = None  # docs/openapi.json's changes; None when not compared
    cdk_diff: dict[str, str] = field(default_factory=dict)  # the CDK CLI's own diff, per changed stack

    @property
    def destructive(self) -> list[Finding]:
        return [f for f in self.findings if f.category == "destructive"]

    @property
    def breaking_api(self) -> list[ApiChange]:
        return [c for c in self.api or [] if c.type == "breaking"]

    def of(self, category: str) -> list[Finding]:
        return [f for f in self.findings if f.category == category]


# --- loading --------------------------------------------------------------------------------


def load_assembly(directory: Path, stage: str | None = None) -> dict[str, dict[str, Any]]:
    """Every CloudFormation stack in a cloud assembly (nested stage assemblies included), or only
    one stage's (artifacts <stage>-<region>), by its CloudFormation stack name: what is deployed,
    however the CDK app nests it."""
    if not (directory / "manifest.json").is_file():
        raise ReviewError(f"{directory}: no cloud assembly here (manifest.json missing); synthesise first")
    try:
        return {stack.stack_name: stack.template for stack in cloud_assembly.stacks(directory)
                if stage is None or stack.artifact_id.startswith(f"{stage}-")}
    except cloud_assembly.AssemblyError as exc:
        raise ReviewError(str(exc)) from None


# --- normalising ----------------------------------------------------------------------------


@dataclass
class Normalised:
    resources: dict[str, dict[str, Any]]
    code: dict[str, str]  # logical id -> asset hash of its code (functions, layers)
    labels: dict[str, str]


def _replace_ids(value: Any, renames: dict[str, str]) -> Any:
    text = json.dumps(value)
    for old, new in renames.items():
        text = text.replace(f'"{old}"', f'"{new}"')
    return json.loads(text)


def normalise(template: dict[str, Any]) -> Normalised:
    resources = {k: v for k, v in template.get("Resources", {}).items() if v["Type"] not in IGNORED_TYPES}
    stack_depth = _stack_depth(resources)
    api_paths = cloud_assembly.api_resource_paths(resources)
    labels = {k: _label(k, v, api_paths, stack_depth) for k, v in resources.items()}
    # API deployments get a new logical id whenever the API changes, and a function's published
    # version whenever its code or configuration does: one stable name per API, and per function.
    renames = {}
    for logical_id, res in resources.items():
        if res["Type"] == "AWS::ApiGateway::Deployment":
            renames[logical_id] = f"ApiDeployment<{render(res['Properties'].get('RestApiId'))}>"
        elif res["Type"] == "AWS::Lambda::Version":
            renames[logical_id] = f"FunctionVersion<{render(res['Properties'].get('FunctionName'))}>"
    code: dict[str, str] = {}
    out: dict[str, dict[str, Any]] = {}
    for logical_id, res in resources.items():
        props = res.get("Properties", {})
        source = props.get("Code") or props.get("Content")
        if res["Type"] in ("AWS::Lambda::Function", "AWS::Lambda::LayerVersion") and isinstance(source, dict):
            code[renames.get(logical_id, logical_id)] = json.dumps(source.get("S3Key"))
        kept = {k: v for k, v in res.items() if k not in ("Metadata",)}
        kept = json.loads(cloud_assembly.ASSET_HASH.sub("<asset>", json.dumps(kept)))
        out[renames.get(logical_id, logical_id)] = _replace_ids(kept, renames)
    labels = {renames.get(k, k): v for k, v in labels.items()}
    return Normalised(resources=out, code=code, labels=labels)


def _stack_depth(resources: dict[str, dict[str, Any]]) -> int:
    """How many components of a construct path name the stack: its resources' common prefix
    (dev-us-east-1 for a top-level stack; dev-us-east-1/Service inside a Stage)."""
    paths = [r["Metadata"]["aws:cdk:path"].split("/") for r in resources.values() if r.get("Metadata", {}).get("aws:cdk:path")]
    if len(paths) < 2:
        return 1
    depth = 0
    while all(len(p) > depth + 1 and p[depth] == paths[0][depth] for p in paths):
        depth += 1
    return depth


def _label(logical_id: str, resource: dict[str, Any], api_paths: dict[str, str], stack_depth: int = 1) -> str:
    props = resource.get("Properties", {})
    if resource["Type"] == "AWS::ApiGateway::Method":
        target = props.get("ResourceId", {})
        path = api_paths.get(target.get("Ref", ""), "/") if isinstance(target, dict) else "/"
        return f"{props.get('HttpMethod', '?')} {path}"
    path = resource.get("Metadata", {}).get("aws:cdk:path")
    if path:
        return "/".join(path.split("/")[stack_depth:]).removesuffix("/Resource") or logical_id
    return logical_id


# --- comparing ------------------------------------------------------------------------------


def changed_paths(old: Any, new: Any, prefix: str = "", depth: int = 0) -> list[str]:
    if old == new:
        return []
    if isinstance(old, dict) and isinstance(new, dict) and depth < 4:
        out = []
        for key in sorted(set(old) | set(new)):
            out += changed_paths(old.get(key), new.get(key), f"{prefix}.{key}" if prefix else key, depth + 1)
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new) and depth < 4:
        out = []
        for i, (a, b) in enumerate(zip(old, new)):
            out += changed_paths(a, b, f"{prefix}[{i}]", depth + 1)
        return out
    return [prefix or "(whole resource)"]


def _top(path: str) -> str:
    return re.split(r"[.\[]", path, maxsplit=1)[0]


def render(value: Any) -> str:
    """A compact reading of CloudFormation values: GetAtt X.Arn, Ref X, joins flattened."""
    if isinstance(value, dict) and len(value) == 1:
        (fn, arg), = value.items()
        if fn == "Ref":
            return f"Ref {arg}"
        if fn == "Fn::GetAtt":
            return ".".join(arg) if isinstance(arg, list) else str(arg)
        if fn == "Fn::Join":
            return str(arg[0]).join(render(p) for p in arg[1])
        if fn == "Fn::Sub":
            return str(arg if isinstance(arg, str) else arg[0])
    if isinstance(value, list):
        return ", ".join(render(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _statements(resource: dict[str, Any]) -> Iterator[dict[str, Any]]:
    props = resource.get("Properties", {})
    for path in POLICY_DOCUMENTS.get(resource["Type"], ()):
        if path.startswith("Policies[]."):
            docs = [p.get("PolicyDocument") for p in props.get("Policies", [])]
        else:
            docs = [props.get(path)]
        for doc in docs:
            if isinstance(doc, str):
                try:
                    doc = json.loads(doc)
                except ValueError:
                    continue
            if isinstance(doc, dict):
                statements = doc.get("Statement", [])
                yield from statements if isinstance(statements, list) else [statements]
    if resource["Type"] == "AWS::IAM::Role":
        for arn in props.get("ManagedPolicyArns", []):
            yield {"Effect": "Allow", "ManagedPolicy": arn}


def _canonical(statement: dict[str, Any]) -> str:
    def sort(v: Any) -> Any:
        if isinstance(v, list):
            return sorted((sort(x) for x in v), key=lambda x: json.dumps(x, sort_keys=True))
        if isinstance(v, dict):
            return {k: sort(x) for k, x in v.items() if k != "Sid"}
        return v
    return json.dumps(sort(statement), sort_keys=True)


def describe_statement(statement: dict[str, Any]) -> str:
    if "ManagedPolicy" in statement:
        return f"managed policy {render(statement['ManagedPolicy'])}"
    actions = statement.get("Action", statement.get("NotAction", []))
    actions = actions if isinstance(actions, list) else [actions]
    who = f" to {render(statement['Principal'])}" if "Principal" in statement else ""
    resources = statement.get("Resource", statement.get("NotResource", "(any)"))
    where = f" on {render(resources)}"
    condition = f" when {json.dumps(statement['Condition'], sort_keys=True)}" if "Condition" in statement else ""
    return f"{statement.get('Effect', '?')} {', '.join(map(str, actions))}{who}{where}{condition}"


def _policy_findings(stack: str, label: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[Finding]:
    before = {_canonical(s): s for s in (_statements(old) if old else [])}
    after = {_canonical(s): s for s in (_statements(new) if new else [])}
    findings = []
    added, removed = sorted(set(after) - set(before)), sorted(set(before) - set(after))
    # CDK merges statements, so a new grant often shows as one statement replaced by a wider one.
    for new_key in list(added):
        for old_key in list(removed):
            widened = _widening(before[old_key], after[new_key])
            if widened is not None:
                findings.append(Finding("iam", stack, label,
                                        f"statement widened: + {widened} (now {describe_statement(after[new_key])})"))
                added.remove(new_key)
                removed.remove(old_key)
                break
    for key in added:
        statement = after[key]
        if statement.get("Effect") == "Allow":
            findings.append(Finding("iam", stack, label, f"statement added: {describe_statement(statement)}"))
        else:
            findings.append(Finding("iam", stack, label, f"deny added: {describe_statement(statement)}"))
    for key in removed:
        statement = before[key]
        if statement.get("Effect") == "Deny":
            findings.append(Finding("security", stack, label, f"deny removed: {describe_statement(statement)}"))
        else:
            findings.append(Finding("iam", stack, label, f"statement removed: {describe_statement(statement)}"))
    return findings


def _as_set(value: Any) -> set[str]:
    return {json.dumps(v, sort_keys=True) if not isinstance(v, str) else v for v in (value if isinstance(value, list) else [value])}


def _widening(old: dict[str, Any], new: dict[str, Any]) -> str | None:
    """What `new` allows beyond `old`, if `new` is `old` with more actions or more resources."""
    if old.get("Effect") != "Allow" or new.get("Effect") != "Allow":
        return None
    same = ("Principal", "Condition", "NotAction", "NotResource")
    if any(old.get(k) != new.get(k) for k in same):
        return None
    old_actions, new_actions = _as_set(old.get("Action", [])), _as_set(new.get("Action", []))
    old_resources, new_resources = _as_set(old.get("Resource", [])), _as_set(new.get("Resource", []))
    if old_resources == new_resources and old_actions < new_actions:
        return ", ".join(sorted(new_actions - old_actions))
    if old_actions == new_actions and old_resources < new_resources:
        return "resources " + ", ".join(sorted(new_resources - old_resources))
    return None


def _retained(resource: dict[str, Any]) -> bool:
    return resource.get("DeletionPolicy") in ("Retain", "RetainExceptOnCreate", "Snapshot")


def compare_stack(stack: str, base: dict[str, Any], head: dict[str, Any]) -> tuple[list[Change], list[Finding]]:
    old, new = normalise(base), normalise(head)
    changes: list[Change] = []
    findings: list[Finding] = []
    for logical_id in sorted(set(old.resources) | set(new.resources)):
        a, b = old.resources.get(logical_id), new.resources.get(logical_id)
        type_ = (b or a)["Type"]  # type: ignore[index]
        label = new.labels.get(logical_id) or old.labels.get(logical_id) or logical_id
        if a is None:
            assert b is not None  # in one of the two, by the loop's set
            changes.append(Change(logical_id, type_, label, "added"))
            findings += _policy_findings(stack, label, None, b)
            if type_ in SECURITY_TYPES:
                findings.append(Finding("security", stack, label, f"{SECURITY_TYPES[type_]} added"))
            if type_ == "AWS::ApiGateway::Method" and b["Properties"].get("AuthorizationType", "NONE") == "NONE" \
                    and b["Properties"].get("HttpMethod") != "OPTIONS":
                findings.append(Finding("security", stack, label, "route added without an authorizer (anyone may call it)"))
            continue
        if b is None:
            changes.append(Change(logical_id, type_, label, "removed"))
            findings += _policy_findings(stack, label, a, None)
            if type_ in STATEFUL:
                fate = "retained: orphaned, no longer used" if _retained(a) else "deleted with its data"
                findings.append(Finding("destructive", stack, label, f"{type_} removed ({fate})"))
            if type_ in SECURITY_TYPES:
                findings.append(Finding("security", stack, label, f"{SECURITY_TYPES[type_]} removed"))
            continue
        paths = [p.removeprefix("Properties.") for p in changed_paths(a, b)]
        code_changed = old.code.get(logical_id) != new.code.get(logical_id)
        if not paths and not code_changed:
            continue
        if a["Type"] != b["Type"]:
            changes.append(Change(logical_id, type_, label, "replaced", tuple(paths), ("Type",)))
            continue
        forcing = tuple(sorted({_top(p) for p in paths} & set(replacing_properties(type_))))
        if type_ == "AWS::Lambda::LayerVersion" and code_changed:
            forcing = tuple(sorted(set(forcing) | {"Content"}))
        kind = "replaced" if forcing else "modified"
        changes.append(Change(logical_id, type_, label, kind, tuple(paths), forcing, code_changed))
        if forcing and type_ in STATEFUL:
            fate = "the old one is retained, orphaned" if _retained(a) else "the old one is deleted with its data"
            findings.append(Finding("destructive", stack, label,
                                    f"{type_} replaced because {', '.join(forcing)} changed ({fate})"))
        for path in paths:
            for prefix, why in SECURITY_PATHS.get(type_, ()):
                if _top(path) == prefix:
                    findings.append(Finding("security", stack, label, f"{why} ({path}: {render(_get(a, path))} -> {render(_get(b, path))})"))
        findings += _policy_findings(stack, label, a, b)
    changes, followed = _follow_replacements(changes, old, new)
    for change in followed:
        if change.type in STATEFUL:
            fate = "the old one is retained, orphaned" if _retained(old.resources[change.logical_id]) else "the old one is deleted with its data"
            findings.append(Finding("destructive", stack, change.label,
                                    f"{change.type} replaced because {', '.join(change.replaced_by)} ({fate})"))
    return changes, _unique(findings)


def _referenced(value: Any) -> set[str]:
    """The logical ids a property's value refers to (Ref, Fn::GetAtt, Fn::Sub's ${X} and ${X.Y})."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= _referenced(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                found.add(item)
            elif key == "Fn::GetAtt":
                found.add(item[0] if isinstance(item, list) else str(item).split(".")[0])
            elif key == "Fn::Sub":
                text = item[0] if isinstance(item, list) else item
                found |= {m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text)}
                found |= _referenced(item[1] if isinstance(item, list) else None)
            else:
                found |= _referenced(item)
    return found


def _follow_replacements(changes: list[Change], old: Normalised, new: Normalised) -> tuple[list[Change], list[Change]]:
    """A resource whose replacing property refers to a replaced resource is replaced too, though
    its text did not change: the reference resolves to the new resource's id or ARN (a Pipe whose
    Source is the stream ARN of a replaced table)."""
    by_id = {c.logical_id: c for c in changes}
    followed: list[Change] = []
    while True:
        replaced = {i for i, c in by_id.items() if c.kind == "replaced"}
        grew = False
        for logical_id, resource in new.resources.items():
            current = by_id.get(logical_id)
            if logical_id not in old.resources or (current and current.kind in ("replaced", "added")):
                continue
            properties = resource.get("Properties", {})
            follows = sorted(f"{prop} refers to replaced {new.labels.get(ref, ref)}"
                             for prop in replacing_properties(resource["Type"]) for ref in _referenced(properties.get(prop)) & replaced)
            if not follows:
                continue
            label = new.labels.get(logical_id) or logical_id
            change = Change(logical_id, resource["Type"], label, "replaced", current.paths if current else (), tuple(follows),
                            current.code_changed if current else False)
            by_id[logical_id] = change
            followed.append(change)
            grew = True
        if not grew:
            break
    changed = {c.logical_id for c in changes}
    return [by_id[c.logical_id] for c in changes] + [c for c in followed if c.logical_id not in changed], followed


def _get(resource: dict[str, Any], path: str) -> Any:
    node: Any = resource.get("Properties", {})
    for part in re.findall(r"[^.\[\]]+", path):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict):
            node = node.get(part)
        else:
            return None
    return "(none)" if node is None else node


def _unique(findings: list[Finding]) -> list[Finding]:
    seen: dict[Finding, None] = {}
    for f in findings:
        seen.setdefault(f)
    return list(seen)


def compare(base: dict[str, dict[str, Any]], head: dict[str, dict[str, Any]], *, base_name: str, head_name: str) -> Report:
    report = Report(base=base_name, head=head_name)
    report.stacks_added = sorted(set(head) - set(base))
    report.stacks_removed = sorted(set(base) - set(head))
    for stack in report.stacks_removed:
        for logical_id, res in base[stack].get("Resources", {}).items():
            if res["Type"] in STATEFUL:
                report.findings.append(Finding("destructive", stack, _label(logical_id, res, base[stack]["Resources"]),
                                               f"stack removed with its {res['Type']}"))
    for stack in sorted(set(base) & set(head)) + report.stacks_added:
        changes, findings = compare_stack(stack, base.get(stack, {"Resources": {}}), head[stack])
        if changes:
            report.changes[stack] = changes
        report.findings += findings
    return report
