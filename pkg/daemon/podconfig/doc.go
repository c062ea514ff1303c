// Package podconfig configures one pod's network on the node: the veth
// pair and its pod end (address, route, MTU) in the pod's namespace, the
// OVS port bound to the pod's logical port, bandwidth limits and
// mirroring; and undoes it.
package podconfig
