// Package nslink does link, address and route work inside a network
// namespace through a netlink handle bound to it, so the daemon's own
// threads never switch namespaces; the pod configurator and the node
// set-up share it.
package nslink
