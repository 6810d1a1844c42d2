variable "config" {
  description = "config/stages.yaml, decoded (the one configuration file the CDK app also reads)."
  type        = any

  validation {
    condition     = can(keys(var.config.stages)) && can(tostring(var.config.service))
    error_message = "config must be config/stages.yaml decoded: it needs a service name and a stages map."
  }
}

variable "environment" {
  description = "The stage to plan: a key of stages in config/stages.yaml."
  type        = string

  validation {
    condition     = contains(keys(var.config.stages), var.environment)
    error_message = "environment \"${var.environment}\" is not a stage in config/stages.yaml; use one of: ${join(", ", sort(keys(var.config.stages)))}."
  }
}

variable "cloud_provider" {
  description = "Primary cloud provider. Null (the default) takes the stage's cloud_provider from config/stages.yaml, where a stage names it once; a value that contradicts the file is refused."
  type        = string
  default     = null

  # As in the original design, word for word (null: the config file decides).
  validation {
    condition     = var.cloud_provider == null || contains(["aws", "gcp", "azure"], coalesce(var.cloud_provider, "aws"))
    error_message = "Cloud provider must be aws, gcp, or azure."
  }
}

variable "multi_cloud_enabled" {
  description = "Enable multi-cloud deployment"
  type        = bool
  default     = false
}

variable "regions" {
  description = "Deployment regions per cloud (keys aws, gcp, azure). Null takes the stage's lists from config/stages.yaml; a key given here overrides that cloud's list."
  type        = map(list(string))
  default     = null

  validation {
    condition     = var.regions == null || length(setsubtract(keys(coalesce(var.regions, {})), ["aws", "gcp", "azure"])) == 0
    error_message = "regions may only have the keys aws, gcp and azure; got ${try(jsonencode(keys(var.regions)), "none")}."
  }

  validation {
    condition = var.regions == null || alltrue(flatten([
      for cloud, list in coalesce(var.regions, {}) : [
        for r in list : can(regex(lookup(local.region_patterns, cloud, "^$"), r))
      ]
    ]))
    error_message = "regions: each entry must be a region name of its cloud, e.g. aws \"us-east-1\", gcp \"us-central1\", azure \"West Europe\"."
  }

  validation {
    condition = var.regions == null || alltrue([
      for cloud, list in coalesce(var.regions, {}) : length(distinct([for r in list : lower(replace(r, " ", ""))])) == length(list)
    ])
    error_message = "regions: a cloud lists the same region twice (Azure's \"West Europe\" and \"westeurope\" are the same region)."
  }
}

variable "network_supernet" {
  description = "The private range the CIDR plan carves every GCP subnet and Azure VNet from (a /20 per cloud region). Stages are separate networks and may share it."
  type        = string
  default     = "10.96.0.0/12"

  validation {
    condition     = can(cidrhost(var.network_supernet, 0)) && can(tonumber(split("/", var.network_supernet)[1])) && try(tonumber(split("/", var.network_supernet)[1]) <= 15, false)
    error_message = "network_supernet must be an IPv4 CIDR of /15 or larger (it holds a /20 for each of up to 16 GCP and 16 Azure regions), e.g. 10.96.0.0/12."
  }
}

variable "network_cidrs" {
  description = "Pinned ranges that replace the plan's, keyed \"gcp/<region>\" or \"azure/<region>\" (between /8 and /20)."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.network_cidrs : can(regex("^(gcp|azure)/.+$", k)) && can(cidrhost(v, 0)) && try(tonumber(split("/", v)[1]) >= 8 && tonumber(split("/", v)[1]) <= 20, false)])
    error_message = "network_cidrs keys are \"gcp/<region>\" or \"azure/<region>\" and values IPv4 CIDRs between /8 and /20, e.g. { \"gcp/us-central1\" = \"10.200.0.0/20\" }."
  }
}

variable "aws_vpc_ids" {
  description = "AWS VPC ids by AWS region, for the optional AWS leg of the cross-cloud VPN (the original design's aws_vpc_ids)."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for v in values(var.aws_vpc_ids) : can(regex("^vpc-[0-9a-f]{8,17}$", v))])
    error_message = "aws_vpc_ids values must be VPC ids such as vpc-0123456789abcdef0."
  }
}

variable "aws_vpc_cidrs" {
  description = "The CIDR of each VPC in aws_vpc_ids, by the same AWS region keys: advertised over BGP and checked against the plan for overlaps."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for v in values(var.aws_vpc_cidrs) : can(cidrhost(v, 0))])
    error_message = "aws_vpc_cidrs values must be IPv4 CIDRs such as 10.0.0.0/16."
  }
}

variable "name_suffix" {
  description = "Appended to globally unique Azure names (Cosmos DB account, Service Bus namespace) when the plain name is taken."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^[a-z0-9]{0,6}$", var.name_suffix))
    error_message = "name_suffix must be at most 6 lowercase letters or digits."
  }
}
