package netpol

import (
	"net/netip"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/ovnet/ovnet/pkg/ovnname"
)

// Isolation is a namespace's default deny: per direction, a port group of
// the pods some policy of the namespace isolates in that direction, whose
// ACLs drop what no policy allows.
type Isolation struct {
	Ingress PortGroup
	Egress  PortGroup
}

// IsolationInput is what a namespace's default deny depends on.
type IsolationInput struct {
	Namespace string
	// Policies are the namespace's NetworkPolicies.
	Policies []*networkingv1.NetworkPolicy
	// Cluster holds (at least) the namespace's addressed pods.
	Cluster Cluster
	// Log says whether the drops are logged.
	Log Logging
	// NodeCIDRs are the join subnet's ranges, one per family, the
	// addresses of the nodes' ovn0: kubelet probes come from there and
	// must reach isolated pods.
	NodeCIDRs []netip.Prefix
}

// NamespaceIsolation computes a namespace's deny groups. Pods a policy
// isolates keep ARP/ND in both directions and traffic from the nodes
// (kubelet probes); everything else needs a policy's allow.
func NamespaceIsolation(in IsolationInput) Isolation {
	var ingress, egress []Pod
	seenIn, seenOut := map[string]bool{}, map[string]bool{}
	for _, p := range in.Policies {
		selected, err := SelectedPods(p, in.Cluster)
		if err != nil {
			continue // the policy's own Event reports it; it selects nothing
		}
		isIn, isOut := PolicyTypes(p)
		for _, pod := range selected {
			if isIn && !seenIn[pod.Name] {
				seenIn[pod.Name] = true
				ingress = append(ingress, pod)
			}
			if isOut && !seenOut[pod.Name] {
				seenOut[pod.Name] = true
				egress = append(egress, pod)
			}
		}
	}
	return Isolation{
		Ingress: denyGroup(in, Ingress, ingress),
		Egress:  denyGroup(in, Egress, egress),
	}
}

func denyGroup(in IsolationInput, dir Direction, pods []Pod) PortGroup {
	pg := ovnname.DenyPortGroup(in.Namespace, dir)
	f := fieldsOf(dir)
	self := f.port + " == @" + pg
	name := func(what string) string { return ovnname.IsolationACL(in.Namespace, dir, what) }
	acls := []ACL{
		{Name: ovnname.DenyACL(in.Namespace, dir), Priority: PriorityDefaultDeny, Match: self, Action: ActionDrop,
			Severity: in.Log.Deny},
		{Name: name("AllowARP"), Priority: PriorityIsolatedAllow, Match: self + " && (arp || nd)", Action: ActionAllow},
	}
	for i := range acls {
		if dir == Ingress {
			acls[i].Direction = ToLport
		} else {
			acls[i].Direction = FromLport
			acls[i].Options = map[string]string{OptionApplyAfterLB: "true"}
		}
	}
	for _, node := range in.NodeCIDRs {
		if !node.IsValid() {
			continue
		}
		// Into the pod, in both groups: kubelet probes reach an isolated
		// pod. For the egress group it has a second purpose: OVN tracks
		// connections on a switch only while some ACL there is
		// allow-related, and without tracking the replies of an
		// egress-isolated pod to connections it accepted would meet its
		// default deny.
		acls = append(acls, ACL{Name: name("AllowNode"), Priority: PriorityIsolatedAllow, Direction: ToLport,
			Match:  "outport == @" + pg + " && " + familyOfPrefix(node).field("src") + " == " + node.Masked().String(),
			Action: ActionAllowRelated})
	}
	return PortGroup{Name: pg, Ports: portNames(pods), ACLs: acls}
}
