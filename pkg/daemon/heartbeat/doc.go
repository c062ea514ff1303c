// Package heartbeat checks, on a gateway node, that the node can carry
// egress traffic (its uplink is up, and when that is an OVS bridge, one of
// the bridge's physical ports has its link up; ovn-controller answers) and renews the
// node's gateway Lease with what it found, so that the controller moves a
// centralized subnet's egress away from a node that stops forwarding.
package heartbeat
