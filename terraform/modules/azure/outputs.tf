output "vnet_ids" {
  description = "The VNet id per region (as the original design's azure_vnet_ids, keyed by region)."
  value       = { for r, v in azurerm_virtual_network.region : r => v.id }
}

output "resource_groups" {
  description = "The resource group per region."
  value       = { for r, g in azurerm_resource_group.region : r => g.name }
}

output "gateway_subnet_ids" {
  description = "GatewaySubnet id per region (empty unless multi-cloud)."
  value       = { for r, s in azurerm_subnet.gateway : r => s.id }
}

output "cosmos_endpoints" {
  description = "The Cosmos DB account endpoint per region (private: resolves inside the VNet)."
  value       = { for r, a in azurerm_cosmosdb_account.users : r => a.endpoint }
}

output "servicebus_queues" {
  description = "The notifications queue id per region."
  value       = { for r, q in azurerm_servicebus_queue.notifications : r => q.id }
}

output "identities" {
  description = "The service's managed identity client id per region."
  value       = { for r, i in azurerm_user_assigned_identity.service : r => i.client_id }
}
