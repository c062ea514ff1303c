// Package harness starts the real parts the suites run against, as child
// processes of the test: kube-apiserver + etcd (through envtest), OVN's
// databases and ovn-northd, the ovnet controller, and nodes (a chassis of
// ovsdb-server, ovs-vswitchd on the userspace datapath and ovn-controller,
// with pods as network namespaces), and the world around them: an underlay
// joining the nodes, an external host on it and a far network behind that,
// standing for the internet. Its functions take a T: a test passes
// its *testing.T or *testing.B, a program a Runner.
package harness
