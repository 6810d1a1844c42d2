# Which clouds deploy, and what the plan says, for the original design's switch.
variables {
  config      = yamldecode(file("../../../config/stages.yaml"))
  environment = "dev"
}

run "aws_alone_deploys_nothing_here" {
  command = plan

  assert {
    condition     = !output.deploy_gcp && !output.deploy_azure && !output.deploy_cross_cloud
    error_message = "cloud_provider = aws must not deploy GCP, Azure or cross-cloud"
  }
  assert {
    condition     = strcontains(output.summary, "the CDK app owns AWS")
    error_message = "the summary must say that the CDK app owns AWS"
  }
  assert {
    condition     = length(output.gcp) == 0 && length(output.azure) == 0 && length(output.gcp_azure_pairs) == 0
    error_message = "nothing is planned for aws alone"
  }
}

run "gcp_only" {
  command = plan
  variables {
    config = yamldecode(file("../../../config/examples/stages-gcp.yaml"))
  }

  assert {
    condition     = output.primary_cloud == "gcp" && output.deploy_gcp && output.deploy_gcp_service && !output.deploy_azure && !output.deploy_cross_cloud
    error_message = "a stage whose primary cloud is gcp deploys GCP and the service there, nothing else"
  }
  assert {
    condition     = keys(output.gcp) == tolist(["europe-west1", "us-central1"]) && length(output.azure) == 0
    error_message = "gcp plans the stage's two GCP regions and no Azure"
  }
}

run "the_minus_var_may_repeat_the_config_file" {
  command = plan
  variables {
    config         = yamldecode(file("../../../config/examples/stages-gcp.yaml"))
    cloud_provider = "gcp"
  }

  assert {
    condition     = output.primary_cloud == "gcp" && output.deploy_gcp_service
    error_message = "-var cloud_provider=gcp agrees with the file"
  }
}

run "azure_only" {
  command = plan
  variables {
    config = {
      service = "archon-serverless-api"
      stages  = { dev = { data_protection = "destroy", cloud_provider = "azure", azure_regions = ["East US", "West Europe"] } }
    }
  }

  assert {
    condition     = !output.deploy_gcp && output.deploy_azure && !output.deploy_cross_cloud && !output.deploy_gcp_service
    error_message = "azure deploys only Azure"
  }
  assert {
    condition     = length(output.azure) == 2 && length(output.gcp) == 0
    error_message = "azure plans the stage's two Azure regions and no GCP"
  }
}

run "multi_cloud_runs_the_service_in_the_primary_cloud_only" {
  command = plan
  variables {
    multi_cloud_enabled = true
  }

  assert {
    condition     = output.primary_cloud == "aws" && !output.deploy_gcp_service && output.gcp_service == null
    error_message = "multi-cloud links landing zones; the service stays in the primary cloud (AWS, the CDK app's): one user set per stage"
  }
}

run "multi_cloud_deploys_everything_and_pairs_regions" {
  command = plan
  variables {
    multi_cloud_enabled = true
  }

  assert {
    condition     = output.deploy_gcp && output.deploy_azure && output.deploy_cross_cloud
    error_message = "multi-cloud deploys GCP, Azure and the cross-cloud links"
  }
  assert {
    condition = jsonencode([for p in output.gcp_azure_pairs : [p.gcp_region, p.azure_region]]) == jsonencode([
      ["us-central1", "East US"], ["europe-west1", "West Europe"],
    ])
    error_message = "the i-th GCP region pairs with the i-th Azure region"
  }
  assert {
    condition     = alltrue([for p in output.gcp_azure_pairs : length(p.tunnels) == 2 && p.gcp_asn != p.azure_asn])
    error_message = "each pair has two tunnels and distinct ASNs"
  }
  assert {
    condition = alltrue(flatten([for p in output.gcp_azure_pairs : [
      for t in p.tunnels : startswith(t.inside_cidr, "169.254.21.") || startswith(t.inside_cidr, "169.254.22.")
    ]]))
    error_message = "Azure only accepts APIPA BGP addresses in 169.254.21.0-169.254.22.255"
  }
  assert {
    condition     = length(distinct(flatten([for p in output.gcp_azure_pairs : [for t in p.tunnels : t.inside_cidr]]))) == 4
    error_message = "every tunnel has its own /30"
  }
  assert {
    condition     = length(output.aws_legs) == 0 && length(output.unpaired_regions) == 0
    error_message = "no AWS leg without aws_vpc_ids, and every region is paired"
  }
}

run "multi_cloud_with_an_aws_leg" {
  command = plan
  variables {
    multi_cloud_enabled = true
    environment         = "staging"
    aws_vpc_ids         = { "eu-west-1" = "vpc-0123456789abcdef0" }
    aws_vpc_cidrs       = { "eu-west-1" = "10.10.0.0/16" }
  }

  assert {
    condition     = length(output.aws_legs) == 1 && output.aws_legs[0].gcp_region == "europe-west1"
    error_message = "the second AWS region pairs with the second GCP region"
  }
  assert {
    condition     = length(output.aws_legs[0].tunnels) == 4 && output.aws_legs[0].vpc_id == "vpc-0123456789abcdef0"
    error_message = "an AWS leg is two VPN connections of two tunnels each"
  }
  assert {
    condition     = output.cidr_plan["aws/eu-west-1"] == "10.10.0.0/16"
    error_message = "the AWS VPC's range is part of the plan's overlap check"
  }
}

run "unpaired_regions_are_reported" {
  command = plan
  variables {
    multi_cloud_enabled = true
    regions             = { gcp = ["us-central1", "europe-west1", "asia-northeast1"] }
  }

  assert {
    condition     = output.unpaired_regions == tolist(["gcp/asia-northeast1"])
    error_message = "a third GCP region has no Azure partner and is reported"
  }
  expect_failures = [check.every_region_is_paired]
}
