# HA VPN with BGP: GCP is the hub. Each GCP region in a pair gets an HA VPN gateway and a Cloud
# Router; Azure gets an active-active VPN gateway; the optional AWS leg gets a virtual private
# gateway and two VPN connections. Pre-shared keys are generated and live only in the (encrypted,
# remote) state.
locals {
  gcp_regions = toset(concat([for p in var.gcp_azure_pairs : p.gcp_region], [for l in var.aws_legs : l.gcp_region]))
  gcp_asn     = merge({ for p in var.gcp_azure_pairs : p.gcp_region => p.gcp_asn }, { for l in var.aws_legs : l.gcp_region => l.gcp_asn })
  pairs       = { for p in var.gcp_azure_pairs : p.name => p }
  azure_tunnels = merge([
    for p in var.gcp_azure_pairs : { for t in p.tunnels : t.name => merge(t, { pair = p.name, gcp_region = p.gcp_region, azure_region = p.azure_region, gcp_asn = p.gcp_asn, azure_asn = p.azure_asn }) }
  ]...)
  aws_legs = { for l in var.aws_legs : l.name => l }
  aws_tunnels = merge([
    for l in var.aws_legs : { for t in l.tunnels : t.name => merge(t, { leg = l.name, gcp_region = l.gcp_region, aws_asn = l.aws_asn }) }
  ]...)
  aws_connections = merge([
    for l in var.aws_legs : { for c in range(2) : "${l.name}-${c}" => { leg = l.name, index = c, gcp_region = l.gcp_region } }
  ]...)
}

# --- GCP hub ------------------------------------------------------------------------------------

resource "google_compute_ha_vpn_gateway" "hub" {
  for_each = local.gcp_regions

  project = var.project_id
  name    = "archon-${var.environment}-${each.key}-vpn"
  region  = each.key
  network = var.gcp_network_id
}

resource "google_compute_router" "hub" {
  for_each = local.gcp_regions

  project = var.project_id
  name    = "archon-${var.environment}-${each.key}-router"
  region  = each.key
  network = var.gcp_network_id

  bgp {
    asn               = local.gcp_asn[each.key]
    advertise_mode    = "CUSTOM"
    advertised_groups = ["ALL_SUBNETS"]
  }
}

resource "random_password" "tunnel" {
  for_each = merge(local.azure_tunnels, local.aws_tunnels)

  length  = 40
  special = false
}

# --- GCP <-> Azure ------------------------------------------------------------------------------

resource "azurerm_public_ip" "vpn" {
  for_each = { for k, t in local.azure_tunnels : k => t }

  name                = "pip-${each.key}"
  location            = var.azure_regions[each.value.azure_region].location
  resource_group_name = var.azure_regions[each.value.azure_region].resource_group_name
  allocation_method   = "Static"
  sku                 = "Standard"
  zones               = ["1", "2", "3"]
  tags                = var.azure_regions[each.value.azure_region].tags
}

resource "azurerm_virtual_network_gateway" "vpn" {
  for_each = local.pairs

  name                = "vgw-${each.key}"
  location            = var.azure_regions[each.value.azure_region].location
  resource_group_name = var.azure_regions[each.value.azure_region].resource_group_name
  tags                = var.azure_regions[each.value.azure_region].tags
  type                = "Vpn"
  vpn_type            = "RouteBased"
  sku                 = "VpnGw2AZ"
  generation          = "Generation2"
  active_active       = true
  bgp_enabled         = true

  dynamic "ip_configuration" {
    for_each = each.value.tunnels
    content {
      name                          = "vnetGatewayConfig${ip_configuration.key}"
      public_ip_address_id          = azurerm_public_ip.vpn[ip_configuration.value.name].id
      private_ip_address_allocation = "Dynamic"
      subnet_id                     = var.azure_regions[each.value.azure_region].gateway_subnet_id
    }
  }

  bgp_settings {
    asn = each.value.azure_asn
    dynamic "peering_addresses" {
      for_each = each.value.tunnels
      content {
        ip_configuration_name = "vnetGatewayConfig${peering_addresses.key}"
        apipa_addresses       = [peering_addresses.value.azure_bgp_ip]
      }
    }
  }
}

# Tunnel, IKE and BGP logs of each Azure gateway, kept a year. (GCP writes Cloud VPN's logs to
# Cloud Logging without configuration.)
resource "azurerm_log_analytics_workspace" "vpn" {
  for_each = local.pairs

  name                = "log-vpn-${each.key}"
  location            = var.azure_regions[each.value.azure_region].location
  resource_group_name = var.azure_regions[each.value.azure_region].resource_group_name
  tags                = var.azure_regions[each.value.azure_region].tags
  sku                 = "PerGB2018"
  retention_in_days   = 365
}

resource "azurerm_monitor_diagnostic_setting" "vpn" {
  for_each = local.pairs

  name                       = "vpn-logs"
  target_resource_id         = azurerm_virtual_network_gateway.vpn[each.key].id
  log_analytics_workspace_id = azurerm_log_analytics_workspace.vpn[each.key].id

  dynamic "enabled_log" {
    for_each = ["GatewayDiagnosticLog", "TunnelDiagnosticLog", "RouteDiagnosticLog", "IKEDiagnosticLog"]
    content {
      category = enabled_log.value
    }
  }
}

resource "google_compute_external_vpn_gateway" "azure" {
  for_each = local.pairs

  project         = var.project_id
  name            = "${each.key}-azure"
  redundancy_type = "TWO_IPS_REDUNDANCY"
  labels          = var.gcp_labels[each.value.gcp_region]

  dynamic "interface" {
    for_each = each.value.tunnels
    content {
      id         = interface.key
      ip_address = azurerm_public_ip.vpn[interface.value.name].ip_address
    }
  }
}

resource "google_compute_vpn_tunnel" "azure" {
  for_each = local.azure_tunnels

  project                         = var.project_id
  name                            = each.key
  region                          = each.value.gcp_region
  vpn_gateway                     = google_compute_ha_vpn_gateway.hub[each.value.gcp_region].id
  vpn_gateway_interface           = each.value.gcp_interface
  peer_external_gateway           = google_compute_external_vpn_gateway.azure[each.value.pair].id
  peer_external_gateway_interface = each.value.gcp_interface
  shared_secret                   = random_password.tunnel[each.key].result
  router                          = google_compute_router.hub[each.value.gcp_region].id
  ike_version                     = 2
  labels                          = var.gcp_labels[each.value.gcp_region]
}

resource "google_compute_router_interface" "azure" {
  for_each = local.azure_tunnels

  project    = var.project_id
  name       = each.key
  region     = each.value.gcp_region
  router     = google_compute_router.hub[each.value.gcp_region].name
  ip_range   = "${each.value.gcp_bgp_ip}/30"
  vpn_tunnel = google_compute_vpn_tunnel.azure[each.key].name
}

resource "google_compute_router_peer" "azure" {
  for_each = local.azure_tunnels

  project                   = var.project_id
  name                      = each.key
  region                    = each.value.gcp_region
  router                    = google_compute_router.hub[each.value.gcp_region].name
  interface                 = google_compute_router_interface.azure[each.key].name
  peer_ip_address           = each.value.azure_bgp_ip
  peer_asn                  = each.value.azure_asn
  advertised_route_priority = 100
}

resource "azurerm_local_network_gateway" "gcp" {
  for_each = local.azure_tunnels

  name                = "lgw-${each.key}"
  location            = var.azure_regions[each.value.azure_region].location
  resource_group_name = var.azure_regions[each.value.azure_region].resource_group_name
  tags                = var.azure_regions[each.value.azure_region].tags
  gateway_address     = google_compute_ha_vpn_gateway.hub[each.value.gcp_region].vpn_interfaces[each.value.gcp_interface].ip_address

  bgp_settings {
    asn                 = each.value.gcp_asn
    bgp_peering_address = each.value.gcp_bgp_ip
  }
}

resource "azurerm_virtual_network_gateway_connection" "gcp" {
  for_each = local.azure_tunnels

  name                       = "cn-${each.key}"
  location                   = var.azure_regions[each.value.azure_region].location
  resource_group_name        = var.azure_regions[each.value.azure_region].resource_group_name
  tags                       = var.azure_regions[each.value.azure_region].tags
  type                       = "IPsec"
  connection_protocol        = "IKEv2"
  virtual_network_gateway_id = azurerm_virtual_network_gateway.vpn[each.value.pair].id
  local_network_gateway_id   = azurerm_local_network_gateway.gcp[each.key].id
  shared_key                 = random_password.tunnel[each.key].result
  bgp_enabled                = true

  # Only strong proposals, which GCP's Cloud VPN also offers (IKEv2: AES-GCM-256, SHA-384, DH
  # group 20); Azure's default policy would also accept weaker ones. Phase 2 lifetime as GCP's.
  ipsec_policy {
    ike_encryption   = "GCMAES256"
    ike_integrity    = "SHA384"
    dh_group         = "ECP384"
    ipsec_encryption = "GCMAES256"
    ipsec_integrity  = "GCMAES256"
    pfs_group        = "ECP384"
    sa_lifetime      = 10800
  }

  custom_bgp_addresses {
    primary   = local.pairs[each.value.pair].tunnels[0].azure_bgp_ip
    secondary = local.pairs[each.value.pair].tunnels[1].azure_bgp_ip
  }
}

# --- GCP <-> AWS (optional) ---------------------------------------------------------------------

resource "aws_vpn_gateway" "leg" {
  for_each = local.aws_legs

  vpc_id          = each.value.vpc_id
  amazon_side_asn = each.value.aws_asn
  tags            = { Name = each.key, service = "archon", stage = var.environment, region = each.value.aws_region, managed-by = "terraform" }
}

data "aws_route_tables" "leg" {
  for_each = local.aws_legs

  vpc_id = each.value.vpc_id
}

resource "aws_vpn_gateway_route_propagation" "leg" {
  for_each = { for pair in flatten([for k, l in local.aws_legs : [for rt in data.aws_route_tables.leg[k].ids : { key = "${k}-${rt}", leg = k, rt = rt }]]) : pair.key => pair }

  vpn_gateway_id = aws_vpn_gateway.leg[each.value.leg].id
  route_table_id = each.value.rt
}

# Site-to-Site VPN tunnel logs (IKE and IPsec negotiation, tunnel state), kept a year.
resource "aws_cloudwatch_log_group" "vpn" {
  for_each = local.aws_legs

  name              = "/archon/${var.environment}/vpn/${each.key}"
  retention_in_days = 365
  kms_key_id        = aws_kms_key.vpn_logs[each.key].arn
  tags              = { service = "archon", stage = var.environment, region = each.value.aws_region, managed-by = "terraform" }
}

resource "aws_kms_key" "vpn_logs" {
  for_each = local.aws_legs

  description         = "archon ${var.environment} VPN tunnel logs (${each.key})"
  enable_key_rotation = true
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      { Sid = "AccountAdministers", Effect = "Allow", Principal = { AWS = "arn:aws:iam::${data.aws_caller_identity.current[0].account_id}:root" }, Action = "kms:*", Resource = "*" },
      {
        Sid       = "CloudWatchLogsEncrypts", Effect = "Allow", Principal = { Service = "logs.${each.value.aws_region}.amazonaws.com" },
        Action    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"], Resource = "*",
        Condition = { ArnLike = { "kms:EncryptionContext:aws:logs:arn" = "arn:aws:logs:${each.value.aws_region}:${data.aws_caller_identity.current[0].account_id}:log-group:/archon/${var.environment}/vpn/${each.key}" } }
      },
    ]
  })
  tags = { service = "archon", stage = var.environment, region = each.value.aws_region, managed-by = "terraform" }
}

data "aws_caller_identity" "current" {
  count = length(local.aws_legs) > 0 ? 1 : 0
}

resource "aws_customer_gateway" "gcp" {
  for_each = local.aws_connections

  bgp_asn    = local.gcp_asn[each.value.gcp_region]
  ip_address = google_compute_ha_vpn_gateway.hub[each.value.gcp_region].vpn_interfaces[each.value.index].ip_address
  type       = "ipsec.1"
  tags       = { Name = each.key, service = "archon", stage = var.environment, managed-by = "terraform" }
}

resource "aws_vpn_connection" "gcp" {
  for_each = local.aws_connections

  vpn_gateway_id      = aws_vpn_gateway.leg[each.value.leg].id
  customer_gateway_id = aws_customer_gateway.gcp[each.key].id
  type                = "ipsec.1"
  static_routes_only  = false

  tunnel1_inside_cidr   = local.aws_legs[each.value.leg].tunnels[each.value.index * 2].inside_cidr
  tunnel2_inside_cidr   = local.aws_legs[each.value.leg].tunnels[each.value.index * 2 + 1].inside_cidr
  tunnel1_preshared_key = "k${random_password.tunnel[local.aws_legs[each.value.leg].tunnels[each.value.index * 2].name].result}"
  tunnel2_preshared_key = "k${random_password.tunnel[local.aws_legs[each.value.leg].tunnels[each.value.index * 2 + 1].name].result}"
  tunnel1_ike_versions  = ["ikev2"]
  tunnel2_ike_versions  = ["ikev2"]

  # Only strong proposals, which GCP's Cloud VPN also offers; AWS's defaults would also accept
  # AES-128, SHA-1 and DH group 2.
  tunnel1_phase1_encryption_algorithms = ["AES256-GCM-16"]
  tunnel1_phase1_integrity_algorithms  = ["SHA2-384"]
  tunnel1_phase1_dh_group_numbers      = [20]
  tunnel1_phase2_encryption_algorithms = ["AES256-GCM-16"]
  tunnel1_phase2_integrity_algorithms  = ["SHA2-384"]
  tunnel1_phase2_dh_group_numbers      = [20]
  tunnel2_phase1_encryption_algorithms = ["AES256-GCM-16"]
  tunnel2_phase1_integrity_algorithms  = ["SHA2-384"]
  tunnel2_phase1_dh_group_numbers      = [20]
  tunnel2_phase2_encryption_algorithms = ["AES256-GCM-16"]
  tunnel2_phase2_integrity_algorithms  = ["SHA2-384"]
  tunnel2_phase2_dh_group_numbers      = [20]

  tunnel1_log_options {
    cloudwatch_log_options {
      log_enabled       = true
      log_group_arn     = aws_cloudwatch_log_group.vpn[each.value.leg].arn
      log_output_format = "json"
    }
  }
  tunnel2_log_options {
    cloudwatch_log_options {
      log_enabled       = true
      log_group_arn     = aws_cloudwatch_log_group.vpn[each.value.leg].arn
      log_output_format = "json"
    }
  }

  tags = { Name = each.key, service = "archon", stage = var.environment, managed-by = "terraform" }
}

resource "google_compute_external_vpn_gateway" "aws" {
  for_each = local.aws_legs

  project         = var.project_id
  name            = "${each.key}-aws"
  redundancy_type = "FOUR_IPS_REDUNDANCY"
  labels          = var.gcp_labels[each.value.gcp_region]

  dynamic "interface" {
    for_each = each.value.tunnels
    content {
      id = interface.key
      ip_address = (interface.value.aws_tunnel == 1
        ? aws_vpn_connection.gcp["${each.key}-${interface.value.aws_connection}"].tunnel1_address
      : aws_vpn_connection.gcp["${each.key}-${interface.value.aws_connection}"].tunnel2_address)
    }
  }
}

resource "google_compute_vpn_tunnel" "aws" {
  for_each = local.aws_tunnels

  project                         = var.project_id
  name                            = each.key
  region                          = each.value.gcp_region
  vpn_gateway                     = google_compute_ha_vpn_gateway.hub[each.value.gcp_region].id
  vpn_gateway_interface           = each.value.gcp_interface
  peer_external_gateway           = google_compute_external_vpn_gateway.aws[each.value.leg].id
  peer_external_gateway_interface = index([for t in local.aws_legs[each.value.leg].tunnels : t.name], each.key)
  shared_secret                   = "k${random_password.tunnel[each.key].result}"
  router                          = google_compute_router.hub[each.value.gcp_region].id
  ike_version                     = 2
  labels                          = var.gcp_labels[each.value.gcp_region]
}

resource "google_compute_router_interface" "aws" {
  for_each = local.aws_tunnels

  project    = var.project_id
  name       = each.key
  region     = each.value.gcp_region
  router     = google_compute_router.hub[each.value.gcp_region].name
  ip_range   = "${each.value.gcp_bgp_ip}/30"
  vpn_tunnel = google_compute_vpn_tunnel.aws[each.key].name
}

resource "google_compute_router_peer" "aws" {
  for_each = local.aws_tunnels

  project                   = var.project_id
  name                      = each.key
  region                    = each.value.gcp_region
  router                    = google_compute_router.hub[each.value.gcp_region].name
  interface                 = google_compute_router_interface.aws[each.key].name
  peer_ip_address           = each.value.aws_bgp_ip
  peer_asn                  = each.value.aws_asn
  advertised_route_priority = 100
}
