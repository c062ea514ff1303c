// Package v1 holds the ovnet.io/v1 API: the cluster-scoped Subnet resource.
// +kubebuilder:object:generate=true
// +groupName=ovnet.io
package v1
