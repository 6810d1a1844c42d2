output "deploy_gcp" {
  description = "Whether the GCP module deploys (cloud_provider = gcp, or multi-cloud)."
  value       = local.deploy_gcp
}

output "deploy_azure" {
  description = "Whether the Azure module deploys (cloud_provider = azure, or multi-cloud)."
  value       = local.deploy_azure
}

output "deploy_cross_cloud" {
  description = "Whether the cross-cloud module deploys (multi-cloud only)."
  value       = local.deploy_cross_cloud
}

output "summary" {
  description = "What this plan deploys, in one sentence."
  value       = local.summary
}

output "regions" {
  description = "The stage's regions per cloud: config/stages.yaml, with any regions value passed in applied."
  value       = local.regions

  precondition {
    condition     = length(local.region_problems) == 0
    error_message = "Regions for stage ${var.environment}: ${join("; ", local.region_problems)}. Fix config/stages.yaml or the regions variable."
  }
  precondition {
    condition     = !local.deploy_gcp || length(local.regions.gcp) > 0
    error_message = "GCP deploys but stage ${var.environment} has no GCP regions: set gcp_regions in config/stages.yaml or pass regions = { gcp = [...] }."
  }
  precondition {
    condition     = !local.deploy_azure || length(local.regions.azure) > 0
    error_message = "Azure deploys but stage ${var.environment} has no Azure regions: set azure_regions in config/stages.yaml or pass regions = { azure = [...] }."
  }
}

output "gcp" {
  description = "Per GCP region: names, CIDR, labels and settings for modules/gcp."
  value       = local.deploy_gcp ? local.gcp : {}

  precondition {
    condition     = length(local.gcp_name_problems) == 0
    error_message = "Names: ${join("; ", local.gcp_name_problems)}. Shorten the stage name."
  }
}

output "azure" {
  description = "Per Azure region: names, CIDRs, tags and settings for modules/azure."
  value       = local.deploy_azure ? local.azure : {}

  precondition {
    condition     = length(local.azure_name_problems) == 0
    error_message = "Names: ${join("; ", local.azure_name_problems)}. Shorten the stage name or name_suffix."
  }
}

output "cidr_plan" {
  description = "Every range in use, by cloud/region: the GCP subnets, Azure VNets and the AWS leg's VPCs."
  value       = tomap(local.ranges_in_use)

  precondition {
    condition     = length(local.unknown_pins) == 0
    error_message = "network_cidrs pins ${join(", ", local.unknown_pins)}, which this stage does not deploy; keys are \"gcp/<region>\" or \"azure/<region>\" of the stage's regions."
  }
  precondition {
    condition     = length(local.overlaps) == 0
    error_message = "Overlapping CIDRs: ${join("; ", local.overlaps)}. Give each cloud region its own range (network_cidrs, aws_vpc_cidrs or network_supernet)."
  }
}

output "gcp_azure_pairs" {
  description = "Cross-cloud HA VPN pairs (GCP region i with Azure region i), their ASNs and BGP tunnel addresses."
  value       = local.gcp_azure_pairs
}

output "aws_legs" {
  description = "The optional AWS legs (GCP region i with AWS region i, where aws_vpc_ids names a VPC)."
  value       = local.aws_legs

  precondition {
    condition     = length(local.aws_leg_problems) == 0
    error_message = "AWS leg: ${join("; ", local.aws_leg_problems)}."
  }
}

output "unpaired_regions" {
  description = "Regions without a partner in the other cloud (no cross-cloud VPN)."
  value       = local.unpaired
}
