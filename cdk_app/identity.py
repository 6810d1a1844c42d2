"""The stage's Cognito user pool: who may call the API."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from cdk_app.config import StageConfig
from cdk_app.defaults import removal_policy
from cdk_app.nag import acknowledge


class ApiUsers(Construct):
    def __init__(self, scope: Construct, id: str, *, stage: StageConfig) -> None:
        super().__init__(scope, id)
        self.user_pool = cognito.UserPool(
            self,
            "Pool",
            user_pool_name=f"archon-{stage.name}",
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
            mfa=cognito.Mfa.REQUIRED if stage.mfa_required else cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            # Plus tier: threat protection blocks compromised credentials and risky sign-ins.
            feature_plan=cognito.FeaturePlan.PLUS,
            standard_threat_protection_mode=cognito.StandardThreatProtectionMode.FULL_FUNCTION,
            deletion_protection=stage.retain_data,
            removal_policy=removal_policy(stage),
        )
        if not stage.mfa_required:
            acknowledge(
                self.user_pool,
                "AwsSolutions::AwsSolutions-COG2",
                f"The {stage.name} stage's config sets auth.mfa: optional for its demo users; stages that set required enforce OTP MFA.",
            )
        self.client = self.user_pool.add_client(
            "ApiClient",
            user_pool_client_name=f"archon-api-{stage.name}",
            generate_secret=False,
            auth_flows=cognito.AuthFlow(user_srp=True, admin_user_password=True),
            prevent_user_existence_errors=True,
            id_token_validity=Duration.hours(1),
            access_token_validity=Duration.hours(1),
            refresh_token_validity=Duration.days(30),
            enable_token_revocation=True,
        )
