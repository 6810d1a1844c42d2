"""cdk-nag wiring: the AwsSolutions and Serverless packs on every stage.

cdk-nag 3.x reports through CDK validation, so an unacknowledged finding fails `cdk synth`.
Acknowledgements go through `acknowledge`, on one construct, naming the exact finding, with a
reason; they sit beside the construct they excuse.
"""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, ServerlessChecks
from constructs import IConstruct


def apply_nag(scope: IConstruct) -> None:
    cdk.Validations.of(scope).add_plugins(AwsSolutionsChecks(scope), ServerlessChecks(scope))


def acknowledge(construct: IConstruct, finding: str, reason: str) -> None:
    """Acknowledges one finding (e.g. 'AwsSolutions-IAM5[Resource::*]') on one construct."""
    if len(reason) < 20:
        raise ValueError(f"acknowledgement of {finding} needs a reason a reviewer would accept")
    cdk.Validations.of(construct).acknowledge(cdk.Acknowledgment(id=finding, reason=reason))
