variable "project_id" {
  description = "The GCP project of this stage."
  type        = string
}

variable "environment" {
  description = "The stage."
  type        = string
}

variable "gcp_network_id" {
  description = "The stage's GCP VPC (modules/gcp)."
  type        = string
}

variable "gcp_labels" {
  description = "modules/plan's labels per GCP region."
  type        = map(map(string))
}

variable "azure_regions" {
  description = "Per Azure region: resource group, location, GatewaySubnet id and tags (from modules/azure and modules/plan)."
  type = map(object({
    resource_group_name = string
    location            = string
    gateway_subnet_id   = string
    tags                = map(string)
  }))
}

variable "gcp_azure_pairs" {
  description = "modules/plan's gcp_azure_pairs."
  type = list(object({
    name         = string
    gcp_region   = string
    azure_region = string
    gcp_asn      = number
    azure_asn    = number
    tunnels = list(object({
      name          = string
      gcp_interface = number
      inside_cidr   = string
      gcp_bgp_ip    = string
      azure_bgp_ip  = string
    }))
  }))
}

variable "aws_legs" {
  description = "modules/plan's aws_legs: at most one, in the AWS provider's region."
  type = list(object({
    name       = string
    aws_region = string
    gcp_region = string
    vpc_id     = string
    vpc_cidr   = string
    gcp_asn    = number
    aws_asn    = number
    tunnels = list(object({
      name           = string
      gcp_interface  = number
      aws_connection = number
      aws_tunnel     = number
      inside_cidr    = string
      aws_bgp_ip     = string
      gcp_bgp_ip     = string
    }))
  }))
  default = []

  # Terraform cannot for_each a provider configuration, so one root configures one AWS region.
  validation {
    condition     = length(var.aws_legs) <= 1
    error_message = "The AWS leg supports one AWS region per apply: give aws_vpc_ids for one region."
  }
}
