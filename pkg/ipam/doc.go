// Package ipam hands out and tracks IP and MAC addresses per subnet, for IPv4
// and IPv6 alike, with no knowledge of Kubernetes or OVN.
package ipam
