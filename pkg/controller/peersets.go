package controller

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/ovnet/ovnet/pkg/netpol"
	"github.com/ovnet/ovnet/pkg/ovn"
)

// peerSets keeps the address sets policy peers share: one per distinct
// peer selector, used by every policy whose ACLs name it. A set is filled
// from the cache when a policy first needs it (or its row is gone), then
// follows pod events one address at a time, and is deleted when no
// policy's ACL names it any more.
type peerSets struct {
	// client reads pods and namespaces from the manager's cache.
	client client.Client
	// nb writes the sets.
	nb *ovn.Client
	// pods remembers what policies saw of the pods.
	pods *policyPods
	// mu guards sets, used and the users of every set. It is held over a
	// set's deletion, so no policy starts using a set being deleted.
	mu sync.Mutex
	// sets are the sets some policy used in this process, by name.
	sets map[string]*peerSet
	// inNamespace are the sets without namespaceSelector, by namespace; a
	// pod is checked against its namespace's and the cross-namespace ones.
	inNamespace map[string]map[string]*peerSet
	// crossNamespace are the sets with a namespaceSelector, by name.
	crossNamespace map[string]*peerSet
	// used holds the names of the sets each policy uses.
	used map[types.NamespacedName]map[string]bool
}

// peerSet is one shared set.
type peerSet struct {
	sel netpol.PeerSelector
	// users are the policies using it (guarded by peerSets.mu).
	users map[types.NamespacedName]bool
	// mu orders the set's writes: its fill and each pod's change.
	mu sync.Mutex
	// members is the address of each pod in the set, as written; nil until
	// the set is filled.
	members map[types.NamespacedName]netip.Addr
	// holders counts the members holding each address: an address a new
	// pod reused stays while the old pod's removal is still to come.
	holders map[netip.Addr]int
	// deleted is set once its row was deleted.
	deleted bool
}

func newPeerSets(c client.Client, nb *ovn.Client, pods *policyPods) *peerSets {
	return &peerSets{client: c, nb: nb, pods: pods, sets: map[string]*peerSet{}, inNamespace: map[string]map[string]*peerSet{},
		crossNamespace: map[string]*peerSet{}, used: map[types.NamespacedName]map[string]bool{}}
}

// use records that policy uses sels and returns the fills of those of
// its sets this process has not filled yet (or whose row is gone): ops to
// write in the policy's own transaction, before its ACLs that name the
// sets, so that a cold start writes a policy's rows in one transaction,
// not one more per new set. The sets being filled stay locked until the
// fills are released: a policy sharing one waits for the transaction that
// fills it, and no pod's change is written to it meanwhile.
func (p *peerSets) use(ctx context.Context, policy types.NamespacedName, sels []netpol.PeerSelector) (*setFills, error) {
	p.mu.Lock()
	held := make([]*peerSet, len(sels))
	for i, sel := range sels {
		held[i] = p.register(policy, sel)
	}
	p.mu.Unlock()
	// By name, the order updatePod takes the same locks in.
	sort.Slice(held, func(i, j int) bool { return held[i].sel.Name < held[j].sel.Name })
	held = slices.Compact(held) // a set locked twice would wait for itself
	fills := &setFills{}
	for _, s := range held {
		s.mu.Lock()
		f, needed, err := p.fill(ctx, s)
		if err != nil || !needed {
			s.mu.Unlock()
		}
		if err != nil {
			fills.release()
			return nil, err
		}
		if needed {
			fills.sets = append(fills.sets, f)
			fills.ops = append(fills.ops, f.ops...)
		}
	}
	return fills, nil
}

// setFills are the fills of a policy's new sets, their sets locked.
type setFills struct {
	sets []setFill
	// ops write every set, in the policy's transaction.
	ops []ovnOp
}

// setFill is one set's content as its fill writes it.
type setFill struct {
	set     *peerSet
	ops     []ovnOp
	members map[types.NamespacedName]netip.Addr
	holders map[netip.Addr]int
}

// written records that the transaction holding the ops committed.
func (f *setFills) written() {
	for _, s := range f.sets {
		s.set.members, s.set.holders, s.set.deleted = s.members, s.holders, false
	}
}

// release unlocks the sets; a fill not written is done again by the next
// policy using the set.
func (f *setFills) release() {
	for _, s := range f.sets {
		s.set.mu.Unlock()
	}
	f.sets = nil
}

// register adds policy to a set's users, making the set if it is new.
// Called with p.mu held.
func (p *peerSets) register(policy types.NamespacedName, sel netpol.PeerSelector) *peerSet {
	s := p.sets[sel.Name]
	if s == nil {
		s = &peerSet{sel: sel, users: map[types.NamespacedName]bool{}}
		p.sets[sel.Name] = s
		if sel.CrossNamespace() {
			p.crossNamespace[sel.Name] = s
		} else {
			if p.inNamespace[sel.Namespace] == nil {
				p.inNamespace[sel.Namespace] = map[string]*peerSet{}
			}
			p.inNamespace[sel.Namespace][sel.Name] = s
		}
	}
	s.users[policy] = true
	if p.used[policy] == nil {
		p.used[policy] = map[string]bool{}
	}
	p.used[policy][sel.Name] = true
	return s
}

// fill works out the write of a set this process has not filled yet, or
// whose row is gone (a lost database), from the pods in the cache; needed
// is false when there is nothing to fill. A set already right in NB, as
// after a restart, costs no op. Called with s.mu held.
func (p *peerSets) fill(ctx context.Context, s *peerSet) (setFill, bool, error) {
	found, err := p.nb.AddressSetFound(s.sel.Name)
	if err != nil {
		return setFill{}, false, err
	}
	if found && s.members != nil {
		return setFill{}, false, nil
	}
	members, err := p.membersOf(ctx, s.sel)
	if err != nil {
		return setFill{}, false, err
	}
	holders := map[netip.Addr]int{}
	addrs := make([]string, 0, len(members))
	for _, ip := range members {
		if holders[ip]++; holders[ip] == 1 {
			addrs = append(addrs, ip.String())
		}
	}
	sort.Strings(addrs)
	ops, err := p.nb.AddressSetOps(ovn.AddressSet{Name: s.sel.Name, Addresses: addrs,
		Owner:       ovn.Owner{Kind: ovn.KindPeerSelector, Name: s.sel.Name},
		ExternalIDs: map[string]string{ovn.ExternalIDSelector: s.sel.Key}})
	if err != nil {
		return setFill{}, false, fmt.Errorf("peer address set %s (%s): %w", s.sel.Name, s.sel.Key, err)
	}
	return setFill{set: s, ops: ops, members: members, holders: holders}, true, nil
}

// membersOf reads the addressed pods a selector holds from the cache.
func (p *peerSets) membersOf(ctx context.Context, sel netpol.PeerSelector) (map[types.NamespacedName]netip.Addr, error) {
	view := policyView{client: p.client, pods: p.pods}
	namespaces := map[string]netpol.Namespace{sel.Namespace: {Name: sel.Namespace}}
	if sel.CrossNamespace() {
		var err error
		if namespaces, err = view.namespaces(ctx); err != nil {
			return nil, err
		}
	}
	members := map[types.NamespacedName]netip.Addr{}
	for name, ns := range namespaces {
		if !sel.SelectsNamespace(name, ns.Labels) {
			continue
		}
		c := netpol.Cluster{Pods: map[string][]netpol.Pod{}}
		if err := view.addPods(ctx, &c, name); err != nil {
			return nil, err
		}
		for _, pod := range c.Pods[name] {
			if ip, ok := pod.AddrOf(sel.Family); ok && sel.Selects(pod, ns.Labels) {
				members[types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name}] = ip
			}
		}
	}
	return members, nil
}

// drop records that policy uses only the sets named in keep (none when
// it is gone), and deletes the sets it left that no ACL names any more.
// Called after the policy's own rows no longer name them.
func (p *peerSets) drop(ctx context.Context, policy types.NamespacedName, keep map[string]bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var left []string
	for name := range p.used[policy] {
		if keep[name] {
			continue
		}
		delete(p.used[policy], name)
		if s := p.sets[name]; s != nil {
			delete(s.users, policy)
			if len(s.users) == 0 {
				left = append(left, name)
			}
		}
	}
	if len(p.used[policy]) == 0 {
		delete(p.used, policy)
	}
	return p.deleteUnnamed(ctx, left)
}

// collect deletes the shared sets in NB that no ACL names and no policy
// of this process uses: those left by policies deleted while no
// controller ran, or by a drop that failed.
func (p *peerSets) collect(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	names, err := p.nb.OwnedAddressSets(ovn.KindPeerSelector)
	if err != nil {
		return err
	}
	var unused []string
	for _, name := range names {
		if s := p.sets[name]; s == nil || len(s.users) == 0 {
			unused = append(unused, name)
		}
	}
	return p.deleteUnnamed(ctx, unused)
}

// deleteUnnamed deletes the sets among names that no ACL names. An ACL of
// a policy not yet reconciled since a restart keeps its set alive. Called
// with p.mu held.
func (p *peerSets) deleteUnnamed(ctx context.Context, names []string) error {
	if len(names) == 0 {
		return nil
	}
	named, err := p.nb.NamedAddressSets()
	if err != nil {
		return err
	}
	var ops []ovnOp
	var gone []*peerSet
	for _, name := range names {
		if named[name] {
			continue
		}
		more, err := p.nb.DeleteAddressSetOps(name)
		if err != nil {
			return err
		}
		ops = append(ops, more...)
		if s := p.sets[name]; s != nil {
			s.mu.Lock() // no pod change is written to it meanwhile
			defer s.mu.Unlock()
			gone = append(gone, s)
		}
	}
	if err := p.nb.Transact(ctx, ops); err != nil {
		return fmt.Errorf("delete %d unused peer address sets: %w", len(ops), err)
	}
	for _, s := range gone {
		s.deleted = true
		delete(p.sets, s.sel.Name)
		delete(p.crossNamespace, s.sel.Name)
		if m := p.inNamespace[s.sel.Namespace]; m != nil {
			delete(m, s.sel.Name)
			if len(m) == 0 {
				delete(p.inNamespace, s.sel.Namespace)
			}
		}
	}
	if len(ops) > 0 {
		log.FromContext(ctx).V(1).Info("deleted unused peer address sets", "sets", len(ops))
	}
	return nil
}

// candidates are the sets that may hold a pod of namespace: its
// namespace's and the cross-namespace ones, sorted by name (the order
// their locks are taken in).
func (p *peerSets) candidates(namespace string) []*peerSet {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*peerSet, 0, len(p.inNamespace[namespace])+len(p.crossNamespace))
	for _, s := range p.inNamespace[namespace] {
		out = append(out, s)
	}
	for _, s := range p.crossNamespace {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].sel.Name < out[j].sel.Name })
	return out
}

// anyFor reports whether some set could take a pod of the namespace.
func (p *peerSets) anyFor(namespace string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.inNamespace[namespace]) > 0 || len(p.crossNamespace) > 0
}

// anyCrossNamespace reports whether some set selects namespaces by label.
func (p *peerSets) anyCrossNamespace() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.crossNamespace) > 0
}

// setChange is one set's part of a pod's change.
type setChange struct {
	set         *peerSet
	add, remove string
	member      netip.Addr
	isMember    bool
}

// podOps are more ops of a pod's change, written in the same transaction
// as its sets' (its port groups'): given the pod as the sets see it and
// whether it has an address of ovnet's.
type podOps func(pod netpol.Pod, addressed bool) ([]ovnOp, error)

// updatePod puts a pod's address in exactly the sets that select it, in
// one transaction touching only those sets' changed addresses, together
// with the ops of more.
func (p *peerSets) updatePod(ctx context.Context, key types.NamespacedName, more podOps) error {
	pod, nsLabels, addressed, err := p.podOf(ctx, key)
	if err != nil {
		return err
	}
	sets := p.candidates(key.Namespace)
	for _, s := range sets {
		s.mu.Lock()
		defer s.mu.Unlock()
	}
	var changes []setChange
	var ops []ovnOp
	for _, s := range sets {
		ip, hasFamily := pod.AddrOf(s.sel.Family)
		ch, ok, err := p.change(s, key, ip, addressed && hasFamily && s.sel.Selects(pod, nsLabels))
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		edit, err := p.nb.AddressSetEditOps(s.sel.Name, nonEmpty(ch.add), nonEmpty(ch.remove))
		if err != nil {
			return err
		}
		ops = append(ops, edit...)
		changes = append(changes, ch)
	}
	groups, err := more(pod, addressed)
	if err != nil {
		return err
	}
	if err := p.nb.Transact(ctx, append(ops, groups...)); err != nil {
		return fmt.Errorf("update policy memberships of pod %s: %w", key, err)
	}
	for _, ch := range changes {
		ch.apply(key)
	}
	return nil
}

// change works out a set's change for a pod that should (want) or should
// not be in it with its address ip of the set's family; ok is false when
// there is none. Called with s.mu held.
func (p *peerSets) change(s *peerSet, key types.NamespacedName, ip netip.Addr, want bool) (setChange, bool, error) {
	if s.members == nil || s.deleted {
		return setChange{}, false, nil // its fill reads the pod from the cache
	}
	have, in := s.members[key]
	if want == in && (!want || have == ip) {
		return setChange{}, false, nil
	}
	found, err := p.nb.AddressSetFound(s.sel.Name)
	if err != nil || !found {
		// The row is gone (a lost database): the next use refills it.
		s.members = nil
		return setChange{}, false, err
	}
	ch := setChange{set: s, member: ip, isMember: want}
	if in && s.holders[have] == 1 {
		ch.remove = have.String()
	}
	if want && s.holders[ip] == 0 {
		ch.add = ip.String()
	}
	return ch, ch.add != "" || ch.remove != "" || in != want || have != ip, nil
}

// apply records a written change. Called with the set's mu held.
func (ch setChange) apply(key types.NamespacedName) {
	s := ch.set
	if have, in := s.members[key]; in {
		if s.holders[have]--; s.holders[have] <= 0 {
			delete(s.holders, have)
		}
		delete(s.members, key)
	}
	if ch.isMember {
		s.members[key] = ch.member
		s.holders[ch.member]++
	}
}

func nonEmpty(addr string) []string {
	if addr == "" {
		return nil
	}
	return []string{addr}
}

// podOf reads a pod as the sets see it and its namespace's labels;
// addressed is false for a pod gone, not addressed by ovnet, or finished.
func (p *peerSets) podOf(ctx context.Context, key types.NamespacedName) (netpol.Pod, map[string]string, bool, error) {
	pod := &corev1.Pod{}
	if err := p.client.Get(ctx, key, pod); err != nil {
		if apierrors.IsNotFound(err) {
			return netpol.Pod{}, nil, false, nil
		}
		return netpol.Pod{}, nil, false, fmt.Errorf("get pod %s: %w", key, err)
	}
	np, ok := policyPod(pod)
	if !ok {
		return netpol.Pod{}, nil, false, nil
	}
	ns, err := policyView{client: p.client}.namespace(ctx, key.Namespace)
	if err != nil || ns == nil {
		return netpol.Pod{}, nil, false, err
	}
	return np, ns.Labels, true, nil
}
