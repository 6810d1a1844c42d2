output "tunnel_endpoints" {
  description = "Each tunnel's two public endpoints and BGP addresses."
  value = merge(
    { for k, t in local.azure_tunnels : k => {
      gcp_ip       = google_compute_ha_vpn_gateway.hub[t.gcp_region].vpn_interfaces[t.gcp_interface].ip_address
      peer_ip      = azurerm_public_ip.vpn[k].ip_address
      gcp_bgp_ip   = t.gcp_bgp_ip
      peer_bgp_ip  = t.azure_bgp_ip
      peer_cloud   = "azure"
      peer_gateway = azurerm_virtual_network_gateway.vpn[t.pair].id
    } },
    { for k, t in local.aws_tunnels : k => {
      gcp_ip       = google_compute_ha_vpn_gateway.hub[t.gcp_region].vpn_interfaces[t.gcp_interface].ip_address
      peer_ip      = google_compute_external_vpn_gateway.aws[t.leg].interface[index([for x in local.aws_legs[t.leg].tunnels : x.name], k)].ip_address
      gcp_bgp_ip   = t.gcp_bgp_ip
      peer_bgp_ip  = t.aws_bgp_ip
      peer_cloud   = "aws"
      peer_gateway = aws_vpn_gateway.leg[t.leg].id
    } },
  )
}
