# Every validation, exercised with expect_failures: a bad value never reaches a plan.
variables {
  config      = yamldecode(file("../../../config/stages.yaml"))
  environment = "dev"
}

run "bad_cloud_provider" {
  command = plan
  variables {
    cloud_provider = "oracle"
  }
  expect_failures = [var.cloud_provider]
}

run "unknown_stage" {
  command = plan
  variables {
    environment = "qa"
  }
  expect_failures = [var.environment]
}

run "bad_region_key" {
  command = plan
  variables {
    regions = { gcp = ["us-central1"], alibaba = ["cn-hangzhou"] }
  }
  expect_failures = [var.regions]
}

run "bad_region_name" {
  command = plan
  variables {
    config  = yamldecode(file("../../../config/examples/stages-gcp.yaml"))
    regions = { gcp = ["US Central"] }
  }
  expect_failures = [var.regions]
}

run "duplicate_region" {
  command = plan
  variables {
    multi_cloud_enabled = true
    regions             = { azure = ["West Europe", "westeurope"] }
  }
  expect_failures = [var.regions]
}

run "duplicate_region_in_the_config_file" {
  command = plan
  variables {
    cloud_provider = "gcp"
    config = {
      service = "archon-serverless-api"
      stages  = { dev = { data_protection = "destroy", gcp_regions = ["us-central1", "us-central1"] } }
    }
  }
  # No gcp block either: the service's plan fails too.
  expect_failures = [output.regions, output.gcp_service]
}

run "gcp_without_gcp_regions" {
  command = plan
  variables {
    cloud_provider = "gcp"
    config = {
      service = "archon-serverless-api"
      stages  = { dev = { data_protection = "destroy", aws_regions = ["us-east-1"] } }
    }
  }
  expect_failures = [output.regions, output.gcp_service]
}

run "overlapping_pinned_cidrs" {
  command = plan
  variables {
    multi_cloud_enabled = true
    network_cidrs = {
      "gcp/us-central1" = "10.50.0.0/16"
      "azure/East US"   = "10.50.16.0/20"
    }
  }
  expect_failures = [output.cidr_plan]
}

run "aws_vpc_overlapping_the_plan" {
  command = plan
  variables {
    multi_cloud_enabled = true
    aws_vpc_ids         = { "us-east-1" = "vpc-0123456789abcdef0" }
    aws_vpc_cidrs       = { "us-east-1" = "10.96.0.0/16" }
  }
  expect_failures = [output.cidr_plan]
}

run "pin_for_a_region_the_stage_does_not_deploy" {
  command = plan
  variables {
    config        = yamldecode(file("../../../config/examples/stages-gcp.yaml"))
    network_cidrs = { "gcp/asia-east1" = "10.200.0.0/20" }
  }
  expect_failures = [output.cidr_plan]
}

run "malformed_cidr_pin" {
  command = plan
  variables {
    network_cidrs = { "gcp/us-central1" = "10.200.0.0/28" }
  }
  expect_failures = [var.network_cidrs]
}

run "supernet_too_small" {
  command = plan
  variables {
    network_supernet = "10.96.0.0/20"
  }
  expect_failures = [var.network_supernet]
}

run "aws_vpc_in_a_region_the_stage_does_not_use" {
  command = plan
  variables {
    multi_cloud_enabled = true
    aws_vpc_ids         = { "ap-south-1" = "vpc-0123456789abcdef0" }
    aws_vpc_cidrs       = { "ap-south-1" = "10.10.0.0/16" }
  }
  expect_failures = [output.aws_legs]
}

run "aws_vpc_without_its_cidr" {
  command = plan
  variables {
    multi_cloud_enabled = true
    aws_vpc_ids         = { "us-east-1" = "vpc-0123456789abcdef0" }
  }
  expect_failures = [output.aws_legs]
}

run "malformed_vpc_id" {
  command = plan
  variables {
    aws_vpc_ids = { "us-east-1" = "my-vpc" }
  }
  expect_failures = [var.aws_vpc_ids]
}

run "name_too_long_for_azure" {
  command = plan
  variables {
    multi_cloud_enabled = true
    regions             = { azure = ["Australia Southeast"], gcp = ["australia-southeast1"] }
    name_suffix         = "abcdef"
    environment         = "staging"
  }
  expect_failures = [output.azure]
}

run "bad_name_suffix" {
  command = plan
  variables {
    name_suffix = "Has Spaces"
  }
  expect_failures = [var.name_suffix]
}

run "malformed_aws_vpc_cidr" {
  command = plan
  variables {
    aws_vpc_cidrs = { "us-east-1" = "ten.zero/16" }
  }
  expect_failures = [var.aws_vpc_cidrs]
}

run "config_that_is_not_stages_yaml" {
  command = plan
  variables {
    config = { stages = "dev" }
  }
  expect_failures = [var.config]
}

run "subnetwork_name_too_long_for_gcp" {
  command = plan
  variables {
    cloud_provider = "gcp"
    environment    = "integration-testing-of-a-very-long-stage-name-here"
    config = {
      service = "archon-serverless-api"
      stages  = { integration-testing-of-a-very-long-stage-name-here = { data_protection = "destroy", gcp_regions = ["northamerica-northeast1"] } }
    }
  }
  expect_failures = [output.gcp, output.gcp_service]
}
