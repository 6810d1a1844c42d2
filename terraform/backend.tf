# Remote state per stage, configured at init with a partial file from backends/:
#   terraform init -backend-config=backends/gcs-dev.hcl
# State holds the VPN pre-shared keys: keep the bucket private, versioned and encrypted.
# To keep state in Azure Storage instead, copy backends/azurerm_override.tf.example to
# backend_override.tf and init with backends/azurerm-<stage>.hcl.
terraform {
  backend "gcs" {}
}
