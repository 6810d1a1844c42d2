"""The stage's Cognito user pool: who may call the API, and with which scopes.

Callers are other services and operators, never the public. Each machine client in config gets an
app client with the client-credentials grant and only its scopes; it gets access tokens at the
pool's domain (`/oauth2/token`), and API Gateway checks the route's scope on every method.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aws, CfnOutput, Duration, Fn, SecretValue, Stack
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from cdk_app.checks import acknowledge
from cdk_app.config import SCOPES, ClientConfig
from cdk_app.defaults import Lifecycle
from cdk_app.naming import StageNames
from users import contract

RESOURCE_SERVER = contract.RESOURCE_SERVER
# The machine client of the API suite (make e2e and the deploy workflow), and the stack output
# naming the secret that holds its client secret for the stage's deploy role.
E2E_CLIENT = "e2e"
E2E_SECRET_OUTPUT = "E2eClientSecretArn"


def client_output(name: str) -> str:
    """The stack output holding a machine client's id: ClientIdReader for the client reader,
    ClientIdE2e for e2e (each dash-separated part capitalised, nothing else)."""
    return "ClientId" + "".join(part.capitalize() for part in name.split("-"))


def scope_name(scope: str) -> str:
    """The scope as tokens, API Gateway and the OpenAPI document spell it: <resource server>/<scope>."""
    return f"{RESOURCE_SERVER}/{scope}"


class ApiUsers(Construct):
    """The user pool, its `clients` (client credentials, their scopes only), and for the e2e
    client a secret only the stage's deploy role may read."""

    def __init__(self, scope: Construct, id: str, *, names: StageNames, lifecycle: Lifecycle, mfa_required: bool,
                 clients: Sequence[ClientConfig]) -> None:
        super().__init__(scope, id)
        self.user_pool = cognito.UserPool(
            self,
            "Pool",
            user_pool_name=names.prefixed(),
            self_sign_up_enabled=False,  # callers are provisioned by an administrator
            sign_in_aliases=cognito.SignInAliases(email=True),
            sign_in_case_sensitive=False,
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=Duration.days(3),
            ),
            mfa=cognito.Mfa.REQUIRED if mfa_required else cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            # Plus tier: threat protection blocks compromised credentials and risky sign-ins.
            feature_plan=cognito.FeaturePlan.PLUS,
            standard_threat_protection_mode=cognito.StandardThreatProtectionMode.FULL_FUNCTION,
            deletion_protection=lifecycle.retain_data,
            removal_policy=lifecycle.removal_policy,
        )
        if not mfa_required:
            acknowledge(
                self.user_pool,
                "AwsSolutions::AwsSolutions-COG2",
                f"The {lifecycle.stage} stage's config sets auth.mfa: optional; its API callers are machine "
                "clients (client credentials), and stages that set required enforce OTP MFA for people.",
            )
        server = self.user_pool.add_resource_server(
            "ResourceServer",
            identifier=RESOURCE_SERVER,
            user_pool_resource_server_name=names.resource_server,
            scopes=[cognito.ResourceServerScope(scope_name=name, scope_description=what) for name, what in SCOPES.items()],
        )
        # The token endpoint for the client-credentials grant. Prefixes are unique per region
        # across AWS accounts, hence the account id in it.
        self.domain = self.user_pool.add_domain(
            "Domain", cognito_domain=cognito.CognitoDomainOptions(domain_prefix=Fn.join("-", [names.prefixed(), Aws.ACCOUNT_ID]))
        )
        self.clients: dict[str, cognito.UserPoolClient] = {}
        for client in clients:
            self.clients[client.name] = self.user_pool.add_client(
                f"Client-{client.name}",
                user_pool_client_name=names.prefixed(client.name),
                generate_secret=True,
                # No sign-in flows: a machine client only exchanges its secret for an access token.
                auth_flows=cognito.AuthFlow(),
                o_auth=cognito.OAuthSettings(
                    flows=cognito.OAuthFlows(client_credentials=True),
                    scopes=[cognito.OAuthScope.resource_server(server, cognito.ResourceServerScope(scope_name=s, scope_description=SCOPES[s]))
                            for s in client.scopes],
                ),
                supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
                prevent_user_existence_errors=True,
                access_token_validity=Duration.hours(1),
                enable_token_revocation=True,
            )
            # CloudFormation's default for no explicit flows is SRP, refresh and custom auth;
            # this client uses none of them (the refresh flow is always on and unused here).
            self.clients[client.name].node.default_child.add_property_override(  # type: ignore[union-attr]
                "ExplicitAuthFlows", ["ALLOW_REFRESH_TOKEN_AUTH"])
            # Outputs keep the names the README gives, not CDK's path-and-hash ids.
            CfnOutput(self, f"ClientId-{client.name}", value=self.clients[client.name].user_pool_client_id,
                      description=f"App client id of the {client.name} machine client ({', '.join(client.scopes)})",
                      ).override_logical_id(client_output(client.name))
        if E2E_CLIENT in self.clients:
            self._e2e_secret(names, lifecycle, self.clients[E2E_CLIENT])
        CfnOutput(self, "TokenUrl", value=self.domain.base_url() + "/oauth2/token",
                  description="POST grant_type=client_credentials here with a client's id and secret").override_logical_id("TokenUrl")
        CfnOutput(self, "UserPoolId", value=self.user_pool.user_pool_id, description="The stage's user pool").override_logical_id("UserPoolId")

    def _e2e_secret(self, names: StageNames, lifecycle: Lifecycle, client: cognito.UserPoolClient) -> None:
        """The e2e client's secret for the stage's deploy role only: the role cannot describe app
        clients, so it never sees another client's secret or another stage's."""
        stack = Stack.of(self)
        cfn_client: cognito.CfnUserPoolClient = client.node.default_child  # type: ignore[assignment]
        self.e2e_secret = secretsmanager.Secret(
            self, "E2eClientSecret",
            secret_name=names.e2e_secret(stack.region),
            description=f"The {E2E_CLIENT} machine client's secret, for the {names.stage} deploy workflow's API suite",
            secret_string_value=SecretValue.resource_attribute(cfn_client.attr_client_secret),
            removal_policy=lifecycle.removal_policy,
        )
        deployer = f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/{names.github_role}"
        self.e2e_secret.add_to_resource_policy(iam.PolicyStatement(
            effect=iam.Effect.DENY, principals=[iam.AnyPrincipal()], actions=["secretsmanager:GetSecretValue"], resources=["*"],
            conditions={"StringNotEquals": {"aws:PrincipalArn": deployer}}))
        acknowledge(self.e2e_secret, "AwsSolutions::AwsSolutions-SMG4",
                    "It mirrors the Cognito app client's secret, which CloudFormation owns: rotating it means "
                    "replacing the app client, not a Secrets Manager rotation.")
        self.e2e_secret.node.default_child.add_metadata("checkov", {"skip": [  # type: ignore[union-attr]
            {"id": "CKV_AWS_149", "comment": "The AWS managed key: only the stage's deploy role may read it (resource policy)"}]})
        CfnOutput(self, "E2eSecret", value=self.e2e_secret.secret_arn,
                  description=f"The {E2E_CLIENT} client's secret (make e2e): readable by the stage's deploy role only",
                  ).override_logical_id(E2E_SECRET_OUTPUT)
