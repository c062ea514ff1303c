// Package cni is the contract between the ovnet CNI plugin and the node
// daemon: the request the plugin forwards for every CNI command, the paths
// it is sent to on the daemon's unix socket, and the plugin's side of the
// exchange.
package cni
