# The original design's interface: cloud_provider, multi_cloud_enabled, regions, environment.
variable "cloud_provider" {
  description = "Primary cloud provider. Null (the default) takes the stage's cloud_provider from config/stages.yaml, where a stage names it once; a value that contradicts the file is refused."
  type        = string
  default     = null

  validation {
    condition     = var.cloud_provider == null || contains(["aws", "gcp", "azure"], coalesce(var.cloud_provider, "aws"))
    error_message = "Cloud provider must be aws, gcp, or azure."
  }
}

variable "gcp_function_source" {
  description = "The GCP functions' source archive, built by `make gcp-package` (needed where GCP is the primary cloud)."
  type        = string
  default     = "../build/gcp/functions.zip"
}

variable "multi_cloud_enabled" {
  description = "Enable multi-cloud deployment"
  type        = bool
  default     = false
}

variable "regions" {
  description = "Deployment regions per cloud. Null (the default) takes the stage's lists from config/stages.yaml; a cloud given here overrides that cloud's list. The original defaults are the shipped config's: aws us-east-1, eu-west-1; gcp us-central1, europe-west1; azure East US, West Europe."
  type        = map(list(string))
  default     = null
}

variable "config_file" {
  description = "The configuration file, config/stages.yaml unless given (the CDK app's -c config= twin; the sidecar's tests give config/examples/stages-gcp.yaml)."
  type        = string
  default     = null
}

variable "environment" {
  description = "The stage: a key of stages in config/stages.yaml (dev, staging, prod)."
  type        = string
}

variable "gcp_project_id" {
  description = "The GCP project of this stage's landing zone, where config/stages.yaml names none (a GCP-primary stage names it there: gcp.project_id)."
  type        = string
  default     = null
}

variable "azure_subscription_id" {
  description = "The Azure subscription of this stage (needed when Azure deploys)."
  type        = string
  default     = null
}

variable "aws_vpc_ids" {
  description = "AWS VPC ids by AWS region for the optional AWS leg of the cross-cloud VPN (one region per apply)."
  type        = map(string)
  default     = {}
}

variable "aws_vpc_cidrs" {
  description = "The CIDR of each VPC in aws_vpc_ids, same keys."
  type        = map(string)
  default     = {}
}

variable "network_supernet" {
  description = "The private range the CIDR plan carves a /20 per GCP and Azure region from."
  type        = string
  default     = "10.96.0.0/12"
}

variable "network_cidrs" {
  description = "Pinned ranges replacing the plan's, keyed \"gcp/<region>\" or \"azure/<region>\"."
  type        = map(string)
  default     = {}
}

variable "name_suffix" {
  description = "Appended to globally unique Azure names when the plain name is taken (<= 6 of [a-z0-9])."
  type        = string
  default     = ""
}

variable "servicebus_sku" {
  description = "Standard, or Premium to close the Service Bus public endpoint (private endpoint instead)."
  type        = string
  default     = "Standard"
}
