output "summary" {
  description = "What this stage deploys here; for aws alone, that the CDK app owns AWS."
  value       = module.plan.summary
}

output "regions" {
  description = "The stage's regions per cloud (config/stages.yaml, with any override applied)."
  value       = module.plan.regions
}

output "cidr_plan" {
  description = "Every network range in use, by cloud/region."
  value       = module.plan.cidr_plan
}

output "gcp_vpc_names" {
  description = "The GCP VPC names (as in the original design)."
  value       = try(module.gcp_infrastructure[0].vpc_names, [])
}

output "azure_vnet_ids" {
  description = "The Azure VNet ids, by region (as in the original design)."
  value       = try(module.azure_infrastructure[0].vnet_ids, {})
}

output "tunnel_endpoints" {
  description = "Cross-cloud tunnels: public endpoints and BGP addresses on both sides."
  value       = try(module.cross_cloud_networking[0].tunnel_endpoints, {})
}

output "service_identities" {
  description = "The service's identities: the GCP functions' service accounts, Azure managed identity client ids per region."
  value = {
    gcp   = try(module.gcp_service[0].service_accounts, {})
    azure = try(module.azure_infrastructure[0].identities, {})
  }
}

output "gcp_api" {
  description = "Where GCP serves the users API: its URL, the load balancer's address (the domain's A record), the database and the secrets to fill once."
  value = try({
    url      = module.gcp_service[0].api_url
    ip       = module.gcp_service[0].api_ip
    database = module.gcp_service[0].database
    secrets  = module.gcp_service[0].secrets
  }, null)
}
