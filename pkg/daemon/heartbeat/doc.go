// Package heartbeat checks, on a gateway node, that the node can carry
// egress traffic (its uplink is up, ovn-controller answers) and renews the
// node's gateway Lease with what it found, so that the controller moves a
// centralized subnet's egress away from a node that stops forwarding.
package heartbeat
