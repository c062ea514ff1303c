// Package integration tests the controller against a real kube-apiserver
// with etcd and a real ovsdb-server serving the OVN northbound schema.
package integration
