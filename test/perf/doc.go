// Package perf holds the cluster benchmarks, each printing its figures
// beside a baseline measured in the same run: the controller's addressing
// throughput (also with gateways in force) and restart, CNI ADD and DEL,
// Services, NetworkPolicy, a pod's egress through OVN and its node's NAT,
// and a centralized gateway's failover time.
package perf
