// Package uninstall removes everything ovnet put on a node (CNI files, pod
// interfaces, br-int with its ports, mirror and QoS, OVN's Open_vSwitch
// settings, routes, the nftables table, the socket) and decides, when the
// daemon stops, whether it stops for good.
package uninstall
