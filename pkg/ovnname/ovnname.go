// Package ovnname derives the names of OVN objects from the Kubernetes
// objects they stand for, in the one place both the controller (which
// creates them) and the node daemon (which binds to them) read.
package ovnname

// RouterPort is the cluster router's port into a subnet's switch; it holds
// the subnet's gateway address.
func RouterPort(router, subnet string) string { return router + "-" + subnet }

// SwitchRouterPort is the subnet switch's port of type router that peers
// with RouterPort.
func SwitchRouterPort(router, subnet string) string { return subnet + "-" + router }

// PodPort is a pod's logical switch port, "<pod>.<namespace>" as in Kube-OVN;
// the daemon puts it in the OVS interface's external_ids:iface-id.
func PodPort(namespace, name string) string { return name + "." + namespace }

// LocalnetPort is an underlay subnet's port to its provider network: no
// pod port (<pod>.<ns>, with a dot) or router port (<subnet>-<router>)
// of ovnet's takes this form unless the router is named localnet.
func LocalnetPort(subnet string) string { return subnet + "-localnet" }

// NodePort is a node's port on the join switch, bound by the node's ovn0.
func NodePort(node string) string { return "node-" + node }

// ServiceLoadBalancer is the load balancer of one Service for one protocol
// ("tcp", "udp", "sctp"). "/" and "_" occur in no Kubernetes name, so the
// name cannot be read two ways.
func ServiceLoadBalancer(namespace, name, protocol string) string {
	return "Service_" + namespace + "/" + name + "_" + protocol
}

// ServiceGroup is the load balancer group that holds every Service's load
// balancers and is attached to every logical switch of the cluster router.
func ServiceGroup(clusterRouter string) string { return clusterRouter + "-services" }
