# One stage's Azure footprint per region: a private network, the users container, the
# notifications queue's twin and a managed identity with data-plane roles on those only.
locals {
  premium_bus = var.servicebus_sku == "Premium"
  # Cosmos DB's built-in "Data Contributor": read and write items, no account management.
  cosmos_data_contributor = "00000000-0000-0000-0000-000000000002"
}

resource "azurerm_resource_group" "region" {
  for_each = var.regions

  name     = each.value.resource_group_name
  location = each.value.location
  tags     = each.value.tags
}

# --- network ------------------------------------------------------------------------------------

resource "azurerm_network_security_group" "region" {
  for_each = var.regions

  name                = each.value.nsg_name
  location            = each.value.location
  resource_group_name = azurerm_resource_group.region[each.key].name
  tags                = each.value.tags

  dynamic "security_rule" {
    for_each = length(var.peer_cidrs) > 0 ? [1] : []
    content {
      name                       = "allow-peer-https"
      priority                   = 1000
      direction                  = "Inbound"
      access                     = "Allow"
      protocol                   = "Tcp"
      source_port_range          = "*"
      destination_port_range     = "443"
      source_address_prefixes    = var.peer_cidrs
      destination_address_prefix = "VirtualNetwork"
    }
  }

  # The service's own traffic: its compute (services subnet) reaches the Cosmos DB and Service
  # Bus private endpoints over TLS (HTTPS, and AMQP over TLS for Service Bus), and nothing else.
  security_rule {
    name                       = "allow-services-to-private-endpoints"
    priority                   = 1100
    direction                  = "Inbound"
    access                     = "Allow"
    protocol                   = "Tcp"
    source_port_range          = "*"
    destination_port_ranges    = ["443", "5671"]
    source_address_prefix      = each.value.services_subnet_cidr
    destination_address_prefix = each.value.endpoints_subnet_cidr
  }

  # Azure's default rules allow VNet-to-VNet and load balancer traffic; this one denies every
  # other inbound flow explicitly, above the defaults (65000+).
  security_rule {
    name                       = "deny-all-inbound"
    priority                   = 4096
    direction                  = "Inbound"
    access                     = "Deny"
    protocol                   = "*"
    source_port_range          = "*"
    destination_port_range     = "*"
    source_address_prefix      = "*"
    destination_address_prefix = "*"
  }
}

resource "azurerm_virtual_network" "region" {
  for_each = var.regions

  name                = each.value.vnet_name
  location            = each.value.location
  resource_group_name = azurerm_resource_group.region[each.key].name
  address_space       = [each.value.vnet_cidr]
  tags                = each.value.tags
}

resource "azurerm_subnet" "services" {
  for_each = var.regions

  name                            = "snet-services"
  resource_group_name             = azurerm_resource_group.region[each.key].name
  virtual_network_name            = azurerm_virtual_network.region[each.key].name
  address_prefixes                = [each.value.services_subnet_cidr]
  default_outbound_access_enabled = false

  # For the service's compute (Functions/App Service VNet integration).
  delegation {
    name = "web"
    service_delegation {
      name    = "Microsoft.Web/serverFarms"
      actions = ["Microsoft.Network/virtualNetworks/subnets/action"]
    }
  }
}

resource "azurerm_subnet" "endpoints" {
  for_each = var.regions

  name                              = "snet-private-endpoints"
  resource_group_name               = azurerm_resource_group.region[each.key].name
  virtual_network_name              = azurerm_virtual_network.region[each.key].name
  address_prefixes                  = [each.value.endpoints_subnet_cidr]
  default_outbound_access_enabled   = false
  private_endpoint_network_policies = "Enabled" # NSG rules apply to the private endpoints too
}

resource "azurerm_subnet" "gateway" {
  for_each = var.gateway_subnet ? var.regions : {}

  name                 = "GatewaySubnet" # the name Azure requires for VPN gateways
  resource_group_name  = azurerm_resource_group.region[each.key].name
  virtual_network_name = azurerm_virtual_network.region[each.key].name
  address_prefixes     = [each.value.gateway_subnet_cidr]
}

resource "azurerm_subnet_network_security_group_association" "services" {
  for_each = var.regions

  subnet_id                 = azurerm_subnet.services[each.key].id
  network_security_group_id = azurerm_network_security_group.region[each.key].id
}

resource "azurerm_subnet_network_security_group_association" "endpoints" {
  for_each = var.regions

  subnet_id                 = azurerm_subnet.endpoints[each.key].id
  network_security_group_id = azurerm_network_security_group.region[each.key].id
}

# --- users: Cosmos DB for NoSQL -----------------------------------------------------------------

resource "azurerm_cosmosdb_account" "users" {
  #checkov:skip=CKV_AZURE_140:checkov 3.3 reads azurerm 4.x's local_authentication_disabled; 5.x spells it local_authentication_enabled = false (set below; tests/terraform checks it)
  #checkov:skip=CKV_AZURE_100:service-managed keys encrypt at rest; a customer-managed key needs a Key Vault with purge protection per region, an opt-in for regulated stages
  for_each = var.regions

  name                = each.value.cosmos_account_name
  location            = each.value.location
  resource_group_name = azurerm_resource_group.region[each.key].name
  tags                = each.value.tags
  offer_type          = "Standard"
  kind                = "GlobalDocumentDB"

  local_authentication_enabled          = false # Entra ID only: no account keys
  minimal_tls_version                   = "Tls12"
  public_network_access_enabled         = false # reached through the private endpoint below
  network_acl_bypass_for_azure_services = false
  access_key_metadata_writes_enabled    = false
  automatic_failover_enabled            = false

  capabilities {
    name = "EnableServerless"
  }

  consistency_policy {
    consistency_level = "Session"
  }

  geo_location {
    location          = each.value.location
    failover_priority = 0
  }

  backup {
    type = "Continuous"
    tier = "Continuous30Days"
  }
}

resource "azurerm_cosmosdb_sql_database" "users" {
  for_each = var.regions

  name                = "archon"
  resource_group_name = azurerm_resource_group.region[each.key].name
  account_name        = azurerm_cosmosdb_account.users[each.key].name
}

resource "azurerm_cosmosdb_sql_container" "users" {
  for_each = var.regions

  name                = "users"
  resource_group_name = azurerm_resource_group.region[each.key].name
  account_name        = azurerm_cosmosdb_account.users[each.key].name
  database_name       = azurerm_cosmosdb_sql_database.users[each.key].name
  partition_key_paths = ["/pk"]
  # Unique keys hold within a logical partition: the service writes an email guard item whose
  # partition is the normalised email, so a duplicate email conflicts (as the DynamoDB guard does).
  unique_key {
    paths = ["/emailNormalised"]
  }

  indexing_policy {
    indexing_mode = "consistent"
    included_path {
      path = "/*"
    }
  }
}

resource "azurerm_private_dns_zone" "cosmos" {
  for_each = var.regions

  name                = "privatelink.documents.azure.com"
  resource_group_name = azurerm_resource_group.region[each.key].name
  tags                = each.value.tags
}

resource "azurerm_private_dns_zone_virtual_network_link" "cosmos" {
  for_each = var.regions

  name                 = "cosmos-${each.value.vnet_name}"
  private_dns_zone_id  = azurerm_private_dns_zone.cosmos[each.key].id
  virtual_network_id   = azurerm_virtual_network.region[each.key].id
  registration_enabled = false
  tags                 = each.value.tags
}

resource "azurerm_private_endpoint" "cosmos" {
  for_each = var.regions

  name                = "pe-${each.value.cosmos_account_name}"
  location            = each.value.location
  resource_group_name = azurerm_resource_group.region[each.key].name
  subnet_id           = azurerm_subnet.endpoints[each.key].id
  tags                = each.value.tags

  private_service_connection {
    name                           = "cosmos-sql"
    private_connection_resource_id = azurerm_cosmosdb_account.users[each.key].id
    subresource_names              = ["Sql"]
    is_manual_connection           = false
  }

  private_dns_zone_group {
    name                 = "cosmos"
    private_dns_zone_ids = [azurerm_private_dns_zone.cosmos[each.key].id]
  }
}

resource "azurerm_management_lock" "cosmos" {
  for_each = { for r, v in var.regions : r => v if v.delete_protection }

  name       = "keep-users-data"
  scope      = azurerm_cosmosdb_account.users[each.key].id
  lock_level = "CanNotDelete"
  notes      = "prod keeps its users (data_protection: retain in config/stages.yaml)."
}

# --- notifications: the SQS queue's twin --------------------------------------------------------

resource "azurerm_servicebus_namespace" "region" {
  #checkov:skip=CKV_AZURE_201:customer-managed keys exist only on Premium; servicebus_sku = "Premium" is the opt-in
  #checkov:skip=CKV_AZURE_199:infrastructure double encryption exists only on Premium (with a customer-managed key)
  #checkov:skip=CKV_AZURE_204:only Premium can close the public endpoint; with servicebus_sku = "Premium" it is closed and a private endpoint added; on Standard, local auth is off and TLS 1.2 enforced
  for_each = var.regions

  name                          = each.value.servicebus_namespace
  location                      = each.value.location
  resource_group_name           = azurerm_resource_group.region[each.key].name
  tags                          = each.value.tags
  sku                           = var.servicebus_sku
  capacity                      = local.premium_bus ? 1 : 0
  premium_messaging_partitions  = local.premium_bus ? 1 : 0
  local_auth_enabled            = false # Entra ID only: no SAS keys
  minimum_tls_version           = "1.2"
  public_network_access_enabled = !local.premium_bus # only Premium can close it

  identity {
    type = "SystemAssigned"
  }
}

resource "azurerm_servicebus_queue" "notifications" {
  for_each = var.regions

  name                                 = each.value.queue_name
  namespace_id                         = azurerm_servicebus_namespace.region[each.key].id
  max_delivery_count                   = each.value.max_delivery_count # then dead-lettered, like the SQS redrive
  dead_lettering_on_message_expiration = true
  default_message_ttl                  = each.value.message_retention_period
  lock_duration                        = "PT3M" # the SQS visibility timeout
  requires_duplicate_detection         = false  # the processor deduplicates durably on the user item
  batched_operations_enabled           = true
}

resource "azurerm_private_dns_zone" "servicebus" {
  for_each = local.premium_bus ? var.regions : {}

  name                = "privatelink.servicebus.windows.net"
  resource_group_name = azurerm_resource_group.region[each.key].name
  tags                = each.value.tags
}

resource "azurerm_private_dns_zone_virtual_network_link" "servicebus" {
  for_each = local.premium_bus ? var.regions : {}

  name                 = "servicebus-${each.value.vnet_name}"
  private_dns_zone_id  = azurerm_private_dns_zone.servicebus[each.key].id
  virtual_network_id   = azurerm_virtual_network.region[each.key].id
  registration_enabled = false
  tags                 = each.value.tags
}

resource "azurerm_private_endpoint" "servicebus" {
  for_each = local.premium_bus ? var.regions : {}

  name                = "pe-${each.value.servicebus_namespace}"
  location            = each.value.location
  resource_group_name = azurerm_resource_group.region[each.key].name
  subnet_id           = azurerm_subnet.endpoints[each.key].id
  tags                = each.value.tags

  private_service_connection {
    name                           = "servicebus"
    private_connection_resource_id = azurerm_servicebus_namespace.region[each.key].id
    subresource_names              = ["namespace"]
    is_manual_connection           = false
  }

  private_dns_zone_group {
    name                 = "servicebus"
    private_dns_zone_ids = [azurerm_private_dns_zone.servicebus[each.key].id]
  }
}

# --- the service's identity: data-plane roles on this region's resources only --------------------

resource "azurerm_user_assigned_identity" "service" {
  for_each = var.regions

  name                = each.value.identity_name
  location            = each.value.location
  resource_group_name = azurerm_resource_group.region[each.key].name
  tags                = each.value.tags
}

resource "azurerm_cosmosdb_sql_role_assignment" "service_reads_writes_users" {
  for_each = var.regions

  resource_group_name = azurerm_resource_group.region[each.key].name
  account_name        = azurerm_cosmosdb_account.users[each.key].name
  role_definition_id  = "${azurerm_cosmosdb_account.users[each.key].id}/sqlRoleDefinitions/${local.cosmos_data_contributor}"
  principal_id        = azurerm_user_assigned_identity.service[each.key].principal_id
  # The users container only, not the account.
  scope = "${azurerm_cosmosdb_account.users[each.key].id}/dbs/${azurerm_cosmosdb_sql_database.users[each.key].name}/colls/${azurerm_cosmosdb_sql_container.users[each.key].name}"
}

resource "azurerm_role_assignment" "service_sends" {
  for_each = var.regions

  scope                = azurerm_servicebus_queue.notifications[each.key].id
  role_definition_name = "Azure Service Bus Data Sender"
  principal_id         = azurerm_user_assigned_identity.service[each.key].principal_id
  principal_type       = "ServicePrincipal"
}

resource "azurerm_role_assignment" "service_receives" {
  for_each = var.regions

  scope                = azurerm_servicebus_queue.notifications[each.key].id
  role_definition_name = "Azure Service Bus Data Receiver"
  principal_id         = azurerm_user_assigned_identity.service[each.key].principal_id
  principal_type       = "ServicePrincipal"
}
