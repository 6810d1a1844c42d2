# Provider-free on purpose: every decision of the sidecar (which clouds deploy, names, the CIDR
# plan, region validation, cross-cloud pairing) lives here, so `terraform test` runs it anywhere,
# including machines that cannot download the google/azurerm providers.
terraform {
  required_version = ">= 1.11.0, < 2.0.0"
}
