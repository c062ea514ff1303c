// Package nodenat owns the nftables table ovnet owns on a node: egress
// masquerade, the inbound guard and NodePort DNAT. It computes the table's
// desired state from Subnets, Services and EndpointSlices and converges
// the table to it over netlink, touching no other table.
package nodenat
