"""The stage's cursor key: the HMAC key that signs the users API's page cursors (users/cursor.py).

One secret per stage, made by the primary region's stack and replicated to the stage's other
regions, so a cursor issued in one region is read in any. The users API reads it from Secrets
Manager (never an environment variable); rotation keeps the key it replaces as "previous" for a
while (docs/operations.md, "Rotating the cursor key").
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from cdk_app.checks import acknowledge
from cdk_app.defaults import Lifecycle

KEY_LENGTH = 64  # characters of the generated key: 64 of an alphabet of 62, about 380 bits


class CursorKey(Construct):
    """The secret `secret_name`, made in `primary_region` with a replica in each of
    `replica_regions`, read by `reader`; the other regions' stacks find their replica by name."""

    def __init__(self, scope: Construct, id: str, *, secret_name: str, primary_region: str, replica_regions: Sequence[str],
                 lifecycle: Lifecycle, reader: iam.IGrantable) -> None:
        super().__init__(scope, id)
        self.secret_name = secret_name
        if Stack.of(self).region == primary_region:
            secret = secretsmanager.Secret(
                self, "Secret", secret_name=self.secret_name,
                description=f"HMAC key of the {lifecycle.stage} users API's page cursors",
                generate_secret_string=secretsmanager.SecretStringGenerator(
                    secret_string_template="{}", generate_string_key="current", password_length=KEY_LENGTH, exclude_punctuation=True),
                replica_regions=[secretsmanager.ReplicaRegion(region=r) for r in replica_regions],
                removal_policy=lifecycle.removal_policy,
            )
            acknowledge(secret, "AwsSolutions::AwsSolutions-SMG4",
                        "Rotated by hand with the previous key kept for verification (docs/operations.md): an automatic "
                        "rotation function would drop the previous key and invalidate every cursor clients hold.")
            secret.node.default_child.add_metadata("checkov", {"skip": [  # type: ignore[union-attr]
                {"id": "CKV_AWS_149", "comment": "The AWS managed key, in every replica region; only the users API's role reads it"}]})
            self.secret: secretsmanager.ISecret = secret
        else:  # the primary region's stack made it, with a replica here
            self.secret = secretsmanager.Secret.from_secret_name_v2(self, "Secret", self.secret_name)
        self.secret.grant_read(reader)
