// Package daemon is the ovnet node agent: it serves the CNI plugin on a
// unix socket, wires pods' veths into Open vSwitch, shapes their
// bandwidth, mirrors their traffic to mirror0 and sets the node up (br-int,
// ovn0, routes to every subnet).
package daemon
