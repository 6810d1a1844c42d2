provider "google" {
  project = var.gcp_project_id
  # Labels every labelable GCP resource, on top of each resource's own service/stage/region labels.
  default_labels = {
    managed-by = "terraform"
    service    = "archon-serverless-api"
  }
}

provider "azurerm" {
  subscription_id     = var.azure_subscription_id
  storage_use_azuread = true
  # 5.x registers nothing by default; these are the namespaces this sidecar creates resources in.
  resource_providers_to_register = [
    "Microsoft.DocumentDB",
    "Microsoft.ManagedIdentity",
    "Microsoft.Network",
    "Microsoft.ServiceBus",
  ]
  features {}
}

# Only the optional AWS leg uses it: the region of the one VPC in aws_vpc_ids.
provider "aws" {
  region = length(var.aws_vpc_ids) > 0 ? one(keys(var.aws_vpc_ids)) : "us-east-1"
  default_tags {
    tags = { service = "archon-serverless-api", stage = var.environment, managed-by = "terraform" }
  }
}
