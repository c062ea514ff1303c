// Package gatewayhealth is the heartbeat of a gateway node: its daemon
// renews a Lease while the node can forward egress traffic, saying why
// when it cannot, and the controller moves a centralized subnet's egress
// to the next listed node when the Lease says so or stops being renewed.
package gatewayhealth
