package controller

import (
	"context"
	"fmt"
	"sync"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/netpol"
	"github.com/ovnet/ovnet/pkg/ovnname"
)

// portGroupLocks orders the writes to a namespace's policy and deny port
// groups between two sides: the full reconciles (of a policy, or of the
// namespace's isolation), which read the pods and write whole groups,
// and pods' changes, which read one pod and write its membership. Within
// a side everything runs at once (each full reconcile writes its own
// groups, each pod its own port); across sides, whichever comes second
// reads what the first wrote and pods at least as new, so neither undoes
// the other with an older view. A side waiting is let in as soon as the
// other side's holders leave, all its waiters at once, so neither
// starves and a burst of one side does not run one at a time.
type portGroupLocks struct {
	mu sync.Mutex
	// namespaces holds one lock per namespace, made on first use.
	namespaces map[string]*sideLock
}

// lockSide is one of the two sides of a sideLock.
type lockSide int

const (
	fullReconcile lockSide = iota
	podChange
)

func newPortGroupLocks() *portGroupLocks {
	return &portGroupLocks{namespaces: map[string]*sideLock{}}
}

// lock takes the namespace's lock for side and returns what releases it.
func (l *portGroupLocks) lock(namespace string, side lockSide) (unlock func()) {
	l.mu.Lock()
	s := l.namespaces[namespace]
	if s == nil {
		s = &sideLock{}
		s.cond.L = &s.mu
		l.namespaces[namespace] = s
	}
	l.mu.Unlock()
	s.acquire(side)
	return func() { s.release() }
}

// sideLock is held by any number of holders of one side at a time.
type sideLock struct {
	mu   sync.Mutex
	cond sync.Cond
	// side is the side inside while holders > 0.
	side    lockSide
	holders int
	// waiting counts the waiters of each side; admitted is bumped when
	// a side's waiters are let in, all of them.
	waiting  [2]int
	admitted [2]uint64
}

func (s *sideLock) acquire(side lockSide) {
	s.mu.Lock()
	defer s.mu.Unlock()
	other := 1 - side
	if s.holders == 0 || s.side == side && s.waiting[other] == 0 {
		s.side = side
		s.holders++
		return
	}
	s.waiting[side]++
	for round := s.admitted[side]; s.admitted[side] == round; {
		s.cond.Wait()
	}
}

func (s *sideLock) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.holders--; s.holders > 0 {
		return
	}
	// The other side first: it has waited while this side was inside.
	for _, next := range []lockSide{1 - s.side, s.side} {
		if s.waiting[next] > 0 {
			s.side, s.holders, s.waiting[next] = next, s.waiting[next], 0
			s.admitted[next]++
			s.cond.Broadcast()
			return
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
