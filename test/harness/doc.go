// Package harness starts the real parts that integration tests, churn tests
// and benchmarks run against: kube-apiserver + etcd through envtest, and OVN's
// ovsdb-server and ovn-northd as child processes of the test.
package harness
