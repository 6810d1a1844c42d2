# terraform init -reconfigure -backend-config=backends/gcs-dev.hcl
bucket = "archon-terraform-state" # create it once: uniform access, versioning, public access prevention
prefix = "sidecar/dev"
