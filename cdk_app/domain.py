"""The stage's own name: certificate, regional custom domain, base path mapping, DNS records."""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as targets
from constructs import Construct

from cdk_app.config import DomainConfig
from cdk_app.naming import StageNames


class CustomDomain(Construct):
    """`domain.name` served by this region's API.

    With one region (`multi_region` false), a plain alias record. With several, each region adds a latency-routed alias
    whose health follows the region's API 5XX alarm, so clients reach the nearest healthy region
    (and no unauthenticated route has to exist for a health checker to call).
    """

    def __init__(
        self, scope: Construct, id: str, *, names: StageNames, domain: DomainConfig, multi_region: bool,
        api: apigw.RestApi, health_alarm: cloudwatch.Alarm | None
    ) -> None:
        super().__init__(scope, id)
        region = Stack.of(self).region
        zone = route53.PublicHostedZone.from_public_hosted_zone_attributes(
            self, "Zone", hosted_zone_id=domain.hosted_zone_id, zone_name=domain.hosted_zone_name
        )
        # A regional endpoint needs its certificate in its own region.
        self.certificate = acm.Certificate(
            self, "Certificate", domain_name=domain.name, validation=acm.CertificateValidation.from_dns(zone)
        )
        self.domain = apigw.DomainName(
            self,
            "DomainName",
            domain_name=domain.name,
            certificate=self.certificate,
            endpoint_type=apigw.EndpointType.REGIONAL,
            security_policy=apigw.SecurityPolicy.TLS_1_2,
        )
        # No base_path: the API answers at the domain's root, as in the original design.
        apigw.BasePathMapping(self, "Mapping", domain_name=self.domain, rest_api=api, stage=api.deployment_stage)
        target = route53.RecordTarget.from_alias(targets.ApiGatewayDomain(self.domain))
        if multi_region:
            assert health_alarm is not None, "config requires monitoring.alarms where a domain routes between regions"
            self.health_check = route53.HealthCheck(
                self,
                "Health",
                type=route53.HealthCheckType.CLOUDWATCH_METRIC,
                alarm_identifier=route53.AlarmIdentifier(name=health_alarm.alarm_name, region=region),
                insufficient_data_health_status=route53.InsufficientDataHealthStatusEnum.LAST_KNOWN_STATUS,
            )
            self.record = route53.ARecord(
                self, "Alias", zone=zone, record_name=domain.name, target=target,
                region=region, set_identifier=names.prefixed(region), health_check=self.health_check,
            )
        else:
            self.record = route53.ARecord(self, "Alias", zone=zone, record_name=domain.name, target=target)
        CfnOutput(self, "Url", value=f"https://{domain.name}/", description="The API at the stage's own name")
