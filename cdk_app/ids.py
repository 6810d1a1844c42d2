"""Construct ids that must stay what they were when the service stacks sat in a CDK Stage.

Until the stacks became top-level, each (stage, region) was a Stage holding a stack "Service",
and CDK folds a construct's whole path into some ids (`Names.node_unique_id`). Logical ids are
computed from the path inside the stack and did not change; ids built from a node's unique id
did. Where a changed id would make CloudFormation replace a resource AWS allows only once, the
old id is kept.
"""

from __future__ import annotations

import hashlib
import re

from aws_cdk import Stack
from constructs import IConstruct

STAGED_STACK_ID = "Service"  # the stack's construct id inside its Stage


def staged_unique_id(construct: IConstruct, child: str | None = None) -> str:
    """`Names.node_unique_id` of `construct` (or of its child `child`, before it is made) as it was
    with the stack inside a Stage named like the stack: dev-us-east-1/Service/<path in the stack>
    (CDK's makeUniqueId: the path's readable parts and the first 8 hex digits of its MD5)."""
    stack = Stack.of(construct)
    inside = construct.node.path.split("/")[len(stack.node.path.split("/")):] + ([child] if child else [])
    components = [c for c in (stack.node.id, STAGED_STACK_ID, *inside) if c != "Default"]
    digest = hashlib.md5("/".join(components).encode(), usedforsecurity=False).hexdigest()[:8].upper()
    readable = [c for i, c in enumerate(components) if i == 0 or c != components[i - 1]]
    human = "".join(re.sub(r"[^A-Za-z0-9]", "", c) for c in readable if c != "Resource")[:240]
    return human + digest
