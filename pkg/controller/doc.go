// Package controller holds ovnet's cluster-wide reconcilers, one per
// resource, which turn Subnets, Namespaces, Pods and Nodes into addresses
// and OVN northbound rows.
package controller
