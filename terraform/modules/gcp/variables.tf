variable "project_id" {
  description = "The GCP project of this stage."
  type        = string
}

variable "network_name" {
  description = "The stage's VPC (global in GCP; one subnetwork per region)."
  type        = string
}

variable "regions" {
  description = "modules/plan's gcp output: names, CIDR, labels and settings per region."
  type = map(object({
    network_name = string
    subnet_name  = string
    subnet_cidr  = string
    labels       = map(string)
  }))
}

variable "peer_cidrs" {
  description = "Ranges of the other clouds' networks (cross-cloud only) allowed to reach the service over HTTPS."
  type        = list(string)
  default     = []
}
