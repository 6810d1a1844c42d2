output "vpc_names" {
  description = "The stage's VPC name (a list, as the original design's gcp_vpc_names)."
  value       = [google_compute_network.this.name]
}

output "network_id" {
  description = "The VPC's id, for the HA VPN gateways."
  value       = google_compute_network.this.id
}

output "subnets" {
  description = "Subnetwork id and range per region."
  value       = { for r, s in google_compute_subnetwork.region : r => { id = s.id, cidr = s.ip_cidr_range } }
}
