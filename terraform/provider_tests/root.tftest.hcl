# Needs the google, azurerm, aws and random provider binaries (for their schemas; every call is
# mocked, no cloud account is used). Run where the registry answers:
#   make tf-provider-tests      (terraform init -backend=false && terraform test -test-directory=provider_tests)
mock_provider "google" {
  mock_data "google_project" {
    defaults = { number = "123456789012" }
  }
  mock_data "google_storage_project_service_account" {
    defaults = { email_address = "service-123456789012@gs-project-accounts.iam.gserviceaccount.com" }
  }
}
mock_provider "azurerm" {}
mock_provider "aws" {
  mock_data "aws_route_tables" {
    defaults = { ids = ["rtb-0123456789abcdef0"] }
  }
}
mock_provider "random" {}

variables {
  environment           = "dev"
  gcp_project_id        = "archon-dev"
  azure_subscription_id = "00000000-0000-0000-0000-000000000000"
}

run "aws_alone_creates_nothing" {
  command = plan

  assert {
    condition     = length(module.gcp_infrastructure) == 0 && length(module.gcp_service) == 0 && length(module.azure_infrastructure) == 0 && length(module.cross_cloud_networking) == 0
    error_message = "cloud_provider = aws instantiates no module"
  }
  assert {
    condition     = strcontains(output.summary, "the CDK app owns AWS")
    error_message = "the summary says the CDK app owns AWS"
  }
}

run "a_gcp_primary_stage_creates_the_landing_zone_and_the_service" {
  variables {
    config_file         = "../config/examples/stages-gcp.yaml"
    gcp_project_id      = null
    gcp_function_source = "../build/gcp/functions.zip"
  }

  assert {
    condition     = length(module.gcp_infrastructure) == 1 && length(module.gcp_service) == 1 && length(module.azure_infrastructure) == 0 && length(module.cross_cloud_networking) == 0
    error_message = "gcp as the primary cloud instantiates the GCP landing zone and the service, nothing else"
  }
  assert {
    condition     = output.gcp_vpc_names == tolist(["archon-dev"]) && output.gcp_api.url == "https://api.gcp-dev.archon.example.com"
    error_message = "one VPC per stage; the API on its custom domain"
  }
  assert {
    condition     = length(output.service_identities.gcp) == 4
    error_message = "a service account per function, and the invoker"
  }
}

run "multi_cloud_links_the_clouds" {
  variables {
    multi_cloud_enabled = true
    aws_vpc_ids         = { "us-east-1" = "vpc-0123456789abcdef0" }
    aws_vpc_cidrs       = { "us-east-1" = "10.10.0.0/16" }
  }

  assert {
    condition     = length(module.cross_cloud_networking) == 1
    error_message = "multi-cloud instantiates the cross-cloud module"
  }
  assert {
    condition     = length(output.tunnel_endpoints) == 8
    error_message = "two GCP-Azure pairs of two tunnels, and one AWS leg of four"
  }
}

run "bad_cloud_provider_is_rejected_at_the_root" {
  command = plan
  variables {
    cloud_provider = "oracle"
  }
  expect_failures = [var.cloud_provider]
}
