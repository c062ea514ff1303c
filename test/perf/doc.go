// Package perf holds the cluster benchmarks: the controller's addressing
// throughput against a client-only baseline measured in the same run, and
// the time and northbound writes of a controller restart.
package perf
