// Package chart tests the Helm chart charts/ovnet as `helm template`
// renders it: its RBAC against the code's +kubebuilder:rbac markers and
// client calls, and its refusal of bad values before anything is created.
package chart
