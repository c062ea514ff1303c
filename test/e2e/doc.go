// Package e2e holds the end-to-end suites: real OVS on the userspace
// datapath, OVN, the API server, the controller and the node daemon, with
// pods as network namespaces wired by the CNI plugin exactly as a runtime
// does, and real packets between them. They need root.
package e2e
