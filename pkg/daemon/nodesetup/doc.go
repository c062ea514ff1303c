// Package nodesetup sets the node up for pods: br-int and the
// Open_vSwitch settings OVN needs, and ovn0, the node's port on the join
// switch, with one route per subnet through it.
package nodesetup
