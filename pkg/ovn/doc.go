// Package ovn builds and commits OVN northbound operations from the generated
// models: it reads the libovsdb cache, turns desired rows into ops, and
// carries no Kubernetes policy of its own.
package ovn
