# The stage's settings come from the one configuration file the CDK app also reads.
locals {
  config = yamldecode(file(coalesce(var.config_file, "${path.module}/../config/stages.yaml")))
  # A GCP-primary stage names its project in config; gcp_project_id serves landing zones of
  # stages that do not (multi-cloud), and may not contradict the file.
  configured_gcp_project = try(local.config.stages[var.environment].gcp.project_id, null)
  gcp_project_id         = coalesce(var.gcp_project_id, local.configured_gcp_project, "unset")
}

# Every decision (which clouds, names, CIDRs, pairing, validation) is made here, provider-free.
module "plan" {
  source = "./modules/plan"

  config              = local.config
  environment         = var.environment
  cloud_provider      = var.cloud_provider
  multi_cloud_enabled = var.multi_cloud_enabled
  regions             = var.regions
  network_supernet    = var.network_supernet
  network_cidrs       = var.network_cidrs
  aws_vpc_ids         = var.aws_vpc_ids
  aws_vpc_cidrs       = var.aws_vpc_cidrs
  name_suffix         = var.name_suffix
}

locals {
  # Each cloud lets in HTTPS from the others' ranges, and only when they are linked.
  peer_ranges = {
    gcp   = var.multi_cloud_enabled ? [for k, c in module.plan.cidr_plan : c if !startswith(k, "gcp/")] : []
    azure = var.multi_cloud_enabled ? [for k, c in module.plan.cidr_plan : c if !startswith(k, "azure/")] : []
  }
}

# GCP Resources
module "gcp_infrastructure" {
  count  = module.plan.deploy_gcp ? 1 : 0
  source = "./modules/gcp"

  project_id   = local.gcp_project_id
  network_name = "archon-${var.environment}"
  regions      = module.plan.gcp
  peer_cidrs   = local.peer_ranges.gcp
}

# The users service on GCP, where GCP is the stage's primary cloud.
module "gcp_service" {
  count  = module.plan.deploy_gcp_service ? 1 : 0
  source = "./modules/gcp-service"

  settings       = module.plan.gcp_service
  source_archive = var.gcp_function_source
}

# Azure Resources
module "azure_infrastructure" {
  count  = module.plan.deploy_azure ? 1 : 0
  source = "./modules/azure"

  regions        = module.plan.azure
  servicebus_sku = var.servicebus_sku
  gateway_subnet = module.plan.deploy_cross_cloud
  peer_cidrs     = local.peer_ranges.azure
}

# Cross-cloud networking
module "cross_cloud_networking" {
  count  = module.plan.deploy_cross_cloud ? 1 : 0
  source = "./modules/cross-cloud"

  project_id      = local.gcp_project_id
  environment     = var.environment
  gcp_network_id  = module.gcp_infrastructure[0].network_id
  gcp_labels      = { for r, g in module.plan.gcp : r => g.labels }
  gcp_azure_pairs = module.plan.gcp_azure_pairs
  aws_legs        = module.plan.aws_legs
  azure_regions = {
    for r, a in module.plan.azure : r => {
      resource_group_name = module.azure_infrastructure[0].resource_groups[r]
      location            = a.location
      gateway_subnet_id   = module.azure_infrastructure[0].gateway_subnet_ids[r]
      tags                = a.tags
    }
  }
}

check "one_gcp_project_per_stage" {
  assert {
    condition     = var.gcp_project_id == null || local.configured_gcp_project == null || var.gcp_project_id == local.configured_gcp_project
    error_message = "config/stages.yaml puts stage ${var.environment} in GCP project ${coalesce(local.configured_gcp_project, "-")}, but gcp_project_id says ${coalesce(var.gcp_project_id, "-")}: drop gcp_project_id (the file names it once)."
  }
}

check "credentials_for_the_clouds_that_deploy" {
  assert {
    condition     = !module.plan.deploy_gcp || local.gcp_project_id != "unset"
    error_message = "GCP deploys: set gcp_project_id (e.g. in stages/${var.environment}.tfvars)."
  }
  assert {
    condition     = !module.plan.deploy_azure || var.azure_subscription_id != null
    error_message = "Azure deploys: set azure_subscription_id (e.g. in stages/${var.environment}.tfvars)."
  }
}
