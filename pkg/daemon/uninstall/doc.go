// Package uninstall removes everything ovnet put on a node (CNI files, pod
// interfaces, br-int with its ports, mirror and QoS, OVN's Open_vSwitch
// settings, routes, the nftables table, the socket), decides, when the
// daemon stops, whether it stops for good (its DaemonSet is gone), and
// tells the Open vSwitch container, which stops with it, to wait.
package uninstall
