// Package daemon is the ovnet node agent. It wires its parts together:
// nodesetup (br-int, ovn0, routes), podconfig (each pod's veth, OVS port,
// QoS and mirroring, recorded by attachments on the port), podrecord (the
// controller's address records of the node's pods) and cniserver (the CNI
// API on a unix socket), with the informers and the pod reconciler that
// keeps running pods' limits and mirroring in line with their annotations.
package daemon
