"""Every name a stage's resources carry, in one place. Deployed names never change (a new name
replaces the resource), so each keeps the pattern it was deployed with; the execution policy
scopes a stage's deploy by the same patterns (execution_policy.stage_names)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StageNames:
    stage: str

    def prefixed(self, *parts: str) -> str:
        """archon-<stage>[-<part>...]: the pool, the web ACL, the alarm topic, the layer, a client."""
        return "-".join(("archon", self.stage, *parts))

    def function(self, name: str) -> str:
        return f"archon-{name}-{self.stage}"

    def stack(self, region: str) -> str:
        return self.prefixed(region)

    @property
    def table(self) -> str:
        return f"users-{self.stage}"

    @property
    def queue(self) -> str:
        return f"notifications-{self.stage}"

    @property
    def outbox_pipe(self) -> str:
        return f"archon-outbox-{self.stage}"

    @property
    def outbox_dead_letter_queue(self) -> str:
        return f"outbox-{self.stage}-dlq"

    @property
    def rest_api(self) -> str:
        return f"archon-users-{self.stage}"

    @property
    def resource_server(self) -> str:
        return f"archon-users-{self.stage}"

    @property
    def boundary(self) -> str:
        return f"archon-boundary-{self.stage}"

    def execution_policy(self, number: int) -> str:
        return f"archon-cfn-execution-{self.stage}-{number}"

    @property
    def github_role(self) -> str:
        return f"archon-github-deploy-{self.stage}"

    @property
    def secret_prefix(self) -> str:
        """Secrets Manager names of the stage's secrets start with it."""
        return f"archon/{self.stage}/"

    @property
    def cursor_key_secret(self) -> str:
        return f"{self.secret_prefix}cursor-key"

    def e2e_secret(self, region: str) -> str:
        return f"{self.secret_prefix}{region}/e2e-client"
