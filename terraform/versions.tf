# Current majors (November 2026): google 7.x and azurerm 5.x. The original design's ~> 4.0 and
# ~> 3.0 are long out of support and miss settings this sidecar relies on (Firestore PITR and
# delete protection, Cosmos DB continuous backup, local_authentication_enabled, bgp_enabled).
# aws and random serve only the cross-cloud module (the optional AWS VPN leg, pre-shared keys).
terraform {
  required_version = ">= 1.11.0, < 2.0.0"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 7.30"
    }
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 5.2"
    }
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.20"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.7"
    }
  }
}
