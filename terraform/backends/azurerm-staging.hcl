# With backend_override.tf (from azurerm_override.tf.example):
# terraform init -reconfigure -backend-config=backends/azurerm-staging.hcl
# A storage account per stage, readable only by the staging stage's deploy identity (README, "State").
resource_group_name  = "rg-archon-tfstate"
storage_account_name = "archontfstatestaging"
container_name       = "tfstate"
key                  = "sidecar.tfstate"
use_azuread_auth     = true # Entra ID, no storage account keys
