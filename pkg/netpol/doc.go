// Package netpol translates NetworkPolicies, namespace isolation and
// private subnets into the OVN rows that enforce them: port groups,
// address sets and ACL match strings. It is pure: it reads Kubernetes
// objects and writes values, and talks to no database.
package netpol
