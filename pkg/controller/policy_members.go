package controller

import (
	"context"
	"fmt"
	"slices"
	"sync"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/netpol"
	"github.com/ovnet/ovnet/pkg/ovnname"
)

// portGroupLocks orders the writes to each policy and deny port group. A
// full reconcile (of a policy, or of a namespace's isolation) reads the
// pods and writes its groups under their locks; a pod's change writes its
// own membership under the locks of its namespace's groups. Whichever
// comes second reads what the first wrote and pods at least as new, so
// neither undoes the other with an older view.
type portGroupLocks struct {
	mu sync.Mutex
	// locks holds one lock per group name, made on first use; a few
	// bytes per policy and namespace ever seen.
	locks map[string]*sync.Mutex
}

func newPortGroupLocks() *portGroupLocks {
	return &portGroupLocks{locks: map[string]*sync.Mutex{}}
}

// lock takes the locks of names, in sorted order so that two callers never
// wait on each other, and returns what releases them.
func (l *portGroupLocks) lock(names ...string) (unlock func()) {
	names = slices.Compact(slices.Sorted(slices.Values(names)))
	held := make([]*sync.Mutex, len(names))
	l.mu.Lock()
	for i, name := range names {
		if l.locks[name] == nil {
			l.locks[name] = &sync.Mutex{}
		}
		held[i] = l.locks[name]
	}
	l.mu.Unlock()
	for _, m := range held {
		m.Lock()
	}
	return func() {
		for _, m := range held {
			m.Unlock()
		}
	}
}

// namespaceGroups are the port groups a pod of one namespace can be in:
// those of the namespace's policies and its two deny groups.
type namespaceGroups struct {
	namespace string
	policies  []networkingv1.NetworkPolicy
}

// groupsOf reads the namespace's policies from the cache.
func groupsOf(ctx context.Context, c client.Client, namespace string) (namespaceGroups, error) {
	var list networkingv1.NetworkPolicyList
	if err := c.List(ctx, &list, client.InNamespace(namespace), readOnly); err != nil {
		return namespaceGroups{}, fmt.Errorf("list networkpolicies of %s: %w", namespace, err)
	}
	return namespaceGroups{namespace: namespace, policies: list.Items}, nil
}

// names are the groups' names, the policies' first.
func (g namespaceGroups) names() []string {
	out := make([]string, 0, len(g.policies)+2)
	for i := range g.policies {
		out = append(out, ovnname.PolicyPortGroup(g.namespace, g.policies[i].Name))
	}
	return append(out, ovnname.DenyPortGroup(g.namespace, netpol.Ingress), ovnname.DenyPortGroup(g.namespace, netpol.Egress))
}

// membership says, for each group, whether a pod with podLabels belongs
// in it: the groups of the policies selecting it, and the deny group of
// each direction one of them isolates. A pod without an address of
// ovnet's (addressed false) belongs in none. The same decision as the
// full reconciles' (netpol.Translate, netpol.NamespaceIsolation), one pod
// at a time.
func (g namespaceGroups) membership(podLabels map[string]string, addressed bool) map[string]bool {
	want := make(map[string]bool, len(g.policies)+2)
	var ingress, egress bool
	for i := range g.policies {
		p := &g.policies[i]
		selected := addressed && selectsPod(p, labels.Set(podLabels))
		want[ovnname.PolicyPortGroup(g.namespace, p.Name)] = selected
		if selected {
			in, out := netpol.PolicyTypes(p)
			ingress, egress = ingress || in, egress || out
		}
	}
	want[ovnname.DenyPortGroup(g.namespace, netpol.Ingress)] = ingress
	want[ovnname.DenyPortGroup(g.namespace, netpol.Egress)] = egress
	return want
}
