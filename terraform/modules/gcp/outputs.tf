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

output "firestore_databases" {
  description = "The users database per region."
  value       = { for r, d in google_firestore_database.users : r => d.name }
}

output "notification_topics" {
  description = "The notifications topic id per region."
  value       = { for r, t in google_pubsub_topic.notifications : r => t.id }
}

output "service_accounts" {
  description = "The service account email per region."
  value       = { for r, a in google_service_account.service : r => a.email }
}
