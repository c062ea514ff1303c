// Package sandbox owns the local cluster `make sandbox` runs and TestKubelet
// starts in-process: kind-like nodes (test/harness KubeCluster) on the
// modelled underlay, ovnet installed onto them by `helm install`, cluster
// DNS and the examples; and, for the program, the detached supervisor that
// keeps it running, its state file, sandbox.env, status, logs and down.
package sandbox
