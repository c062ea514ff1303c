// Package speaker announces, over BGP, the addresses of the cluster that
// users ask to be reachable from outside by their own addresses: Subnets,
// pods and Services annotated ovn.kubernetes.io/bgp=true. One speaker runs
// per node (ovnet-speaker), with GoBGP as a library.
package speaker
