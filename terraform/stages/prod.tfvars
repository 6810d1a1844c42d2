# terraform plan -var-file=stages/prod.tfvars
environment = "prod"
# cloud_provider        = "gcp"   # aws (default: nothing here), gcp or azure
# multi_cloud_enabled   = true    # GCP + Azure + the VPNs between them
# gcp_project_id        = "archon-prod"
# azure_subscription_id = "00000000-0000-0000-0000-000000000000"
