// Package annotation declares the Kube-OVN compatible annotation keys ovnet
// reads and writes, with the meaning of each beside it.
package annotation
