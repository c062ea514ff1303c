// Package kubectlovnet is the operator's tool, run as the kubectl plugin
// `kubectl ovnet`: it reads the cluster (Subnets, pods, nodes, Leases) and
// the OVN databases and says in one screen what ovnet made of them.
package kubectlovnet
