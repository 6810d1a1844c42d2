output "api_url" {
  description = "The API's URL: the custom domain, once its DNS A record points at api_ip and the certificate is active."
  value       = "https://${var.settings.domain}"
}

output "api_ip" {
  description = "The load balancer's address: the custom domain's A record."
  value       = google_compute_global_address.api.address
}

output "database" {
  description = "The stage's Firestore database and where it lives."
  value       = { name = google_firestore_database.users.name, location = google_firestore_database.users.location_id }
}

output "service_accounts" {
  description = "Each function's service account email, and the invoker's."
  value       = merge({ for k, a in google_service_account.function : k => a.email }, { invoker = google_service_account.invoker.email })
}

output "secrets" {
  description = "The Secret Manager secrets to give a version once (README: The service on GCP): the cursor key and the SMTP password."
  value       = { for k, s in google_secret_manager_secret.secret : k => s.id }
}
