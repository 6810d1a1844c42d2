# With backend_override.tf (from azurerm_override.tf.example):
# terraform init -reconfigure -backend-config=backends/azurerm-staging.hcl
resource_group_name  = "rg-archon-tfstate"
storage_account_name = "archontfstate"
container_name       = "tfstate"
key                  = "sidecar/staging.tfstate"
use_azuread_auth     = true # Entra ID, no storage account keys
