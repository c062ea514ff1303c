package ovn

// Keys ovnet writes into the external_ids of every northbound row it owns.
// Garbage collection deletes only rows whose ExternalIDOwner is OwnerValue.
const (
	// ExternalIDOwner marks a row as written by ovnet.
	ExternalIDOwner = "ovnet.io/owner"
	// OwnerValue is the value of ExternalIDOwner on ovnet's rows.
	OwnerValue = "ovnet"
	// ExternalIDKind is the kind of Kubernetes object the row was made for.
	ExternalIDKind = "ovnet.io/kind"
	// ExternalIDNamespace is that object's namespace (empty for cluster-scoped objects).
	ExternalIDNamespace = "ovnet.io/namespace"
	// ExternalIDName is that object's name.
	ExternalIDName = "ovnet.io/name"
	// ExternalIDSwitch records the logical switch a port was put on, so a port
	// can be found and moved without scanning every switch's port list.
	ExternalIDSwitch = "ovnet.io/logical-switch"
	// ExternalIDSelector records, on a shared peer address set, the
	// selectors whose pods it holds, in readable form.
	ExternalIDSelector = "ovnet.io/selector"
)

// Kinds of owning objects.
const (
	KindPod     = "Pod"
	KindNode    = "Node"
	KindSubnet  = "Subnet"
	KindCluster = "Cluster"
	// KindService owns a service's load balancers.
	KindService = "Service"
	// KindNetworkPolicy owns a policy's port group, address sets and ACLs.
	KindNetworkPolicy = "NetworkPolicy"
	// KindNamespace owns rows made for a namespace as a whole: its default
	// deny groups. (Private/allow ACLs sit on a subnet's switch and are the
	// Subnet's, as a Subnet may be private without a namespace.)
	KindNamespace = "Namespace"
	// KindPeerSelector owns an address set shared by every policy peer
	// with the same selectors; its name is the set's. It lives while some
	// policy's ACL names it.
	KindPeerSelector = "PeerSelector"
)

// Owner names the Kubernetes object a northbound row exists for.
type Owner struct {
	Kind      string
	Namespace string
	Name      string
}

// ExternalIDs returns the external_ids that mark a row as owned by o.
func (o Owner) ExternalIDs() map[string]string {
	ids := map[string]string{
		ExternalIDOwner: OwnerValue,
		ExternalIDKind:  o.Kind,
		ExternalIDName:  o.Name,
	}
	if o.Namespace != "" {
		ids[ExternalIDNamespace] = o.Namespace
	}
	return ids
}

// OwnerOf reads the owner back from a row's external_ids; ok is false for
// rows ovnet did not write.
func OwnerOf(externalIDs map[string]string) (Owner, bool) {
	if externalIDs[ExternalIDOwner] != OwnerValue {
		return Owner{}, false
	}
	return Owner{
		Kind:      externalIDs[ExternalIDKind],
		Namespace: externalIDs[ExternalIDNamespace],
		Name:      externalIDs[ExternalIDName],
	}, true
}

// withOwner merges the owner's keys into extra, returning a new map.
func withOwner(o Owner, extra map[string]string) map[string]string {
	ids := o.ExternalIDs()
	for k, v := range extra {
		ids[k] = v
	}
	return ids
}
