package integration

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
	"github.com/ovnet/ovnet/test/harness"
)

// labeledNamespace creates a namespace with labels and annotations.
func (e *env) labeledNamespace(name string, labels, annotations map[string]string) *corev1.Namespace {
	e.t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, Annotations: annotations}}
	if err := e.c.Create(e.ctx, ns); err != nil {
		e.t.Fatalf("create namespace %s: %v", name, err)
	}
	return ns
}

// labeledPod creates a pod with labels and named container ports
// ("http" -> 8080) and waits until it is addressed.
func (e *env) labeledPod(namespace, name string, labels map[string]string, ports map[string]int32) *corev1.Pod {
	e.t.Helper()
	p := newPod(namespace, name, nil)
	p.Labels = labels
	for n, num := range ports {
		p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, corev1.ContainerPort{Name: n, ContainerPort: num})
	}
	if err := e.c.Create(e.ctx, p); err != nil {
		e.t.Fatalf("create pod %s/%s: %v", namespace, name, err)
	}
	return e.addressed(namespace, name)
}

func (e *env) createPolicy(p *networkingv1.NetworkPolicy) {
	e.t.Helper()
	if err := e.c.Create(e.ctx, p); err != nil {
		e.t.Fatalf("create networkpolicy %s/%s: %v", p.Namespace, p.Name, err)
	}
}

// relabel replaces an object's labels.
func (e *env) relabel(obj client.Object, labels map[string]string) {
	e.t.Helper()
	if err := e.c.Get(e.ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
		e.t.Fatal(err)
	}
	obj.SetLabels(labels)
	if err := e.c.Update(e.ctx, obj); err != nil {
		e.t.Fatalf("relabel %s: %v", obj.GetName(), err)
	}
}

// portGroup reads a port group: its member port names (sorted) and ACLs;
// ok is false when there is none of that name.
func (e *env) portGroup(name string) (ports []string, acls []nbdb.ACL, ok bool) {
	pgs := harness.List(e.t, e.view, func(pg *nbdb.PortGroup) bool { return pg.Name == name })
	if len(pgs) == 0 {
		return nil, nil, false
	}
	members := harness.List(e.t, e.view, func(p *nbdb.LogicalSwitchPort) bool { return slices.Contains(pgs[0].Ports, p.UUID) })
	for _, p := range members {
		ports = append(ports, p.Name)
	}
	sort.Strings(ports)
	acls = harness.List(e.t, e.view, func(a *nbdb.ACL) bool { return slices.Contains(pgs[0].ACLs, a.UUID) })
	return ports, acls, true
}

// waitPortGroup waits until the port group holds exactly ports and has
// ACLs that check accepts.
func (e *env) waitPortGroup(name string, ports []string, check func([]nbdb.ACL) error) []nbdb.ACL {
	e.t.Helper()
	var acls []nbdb.ACL
	e.eventually("port group "+name, func() error {
		got, a, ok := e.portGroup(name)
		if !ok {
			return fmt.Errorf("no port group %s", name)
		}
		if !(len(got) == 0 && len(ports) == 0) && !slices.Equal(got, ports) {
			return fmt.Errorf("ports %v, want %v", got, ports)
		}
		acls = a
		if check != nil {
			return check(a)
		}
		return nil
	})
	return acls
}

// addressSetsOf returns the address sets owned by a policy, by name.
func (e *env) addressSetsOf(namespace, policy string) map[string][]string {
	sets := harness.List(e.t, e.view, func(as *nbdb.AddressSet) bool {
		return as.ExternalIDs["ovnet.io/kind"] == "NetworkPolicy" && as.ExternalIDs["ovnet.io/namespace"] == namespace &&
			as.ExternalIDs["ovnet.io/name"] == policy
	})
	out := map[string][]string{}
	for _, as := range sets {
		addrs := slices.Clone(as.Addresses)
		sort.Strings(addrs)
		out[as.Name] = addrs
	}
	return out
}

// peerSets returns the shared peer address sets, by name.
func (e *env) peerSets() map[string][]string {
	sets := harness.List(e.t, e.view, func(as *nbdb.AddressSet) bool { return as.ExternalIDs["ovnet.io/kind"] == "PeerSelector" })
	out := map[string][]string{}
	for _, as := range sets {
		out[as.Name] = as.Addresses
	}
	return out
}

// peersOf returns the addresses of the sets an ACL's match names on field
// ("ip4.src == $a" or "ip4.src == {$a, $b}"), sorted; an error when a
// named set is missing.
func (e *env) peersOf(acl nbdb.ACL, field string) ([]string, error) {
	i := strings.Index(acl.Match, field+" == ")
	if i < 0 {
		return nil, fmt.Errorf("acl %q names no set on %s", acl.Match, field)
	}
	rest := acl.Match[i+len(field)+4:]
	var names []string
	if strings.HasPrefix(rest, "{") {
		names = strings.Split(rest[1:strings.IndexByte(rest, '}')], ", ")
	} else {
		names = []string{strings.Fields(rest)[0]}
	}
	have := harness.List(e.t, e.view, func(as *nbdb.AddressSet) bool { return true })
	var addrs []string
	for _, name := range names {
		found := false
		for _, as := range have {
			if "$"+as.Name == name {
				addrs, found = append(addrs, as.Addresses...), true
			}
		}
		if !found {
			return nil, fmt.Errorf("acl %q names %s, which is not in NB", acl.Match, name)
		}
	}
	sort.Strings(addrs)
	return slices.Compact(addrs), nil
}

// hasSetWith reports whether one of the sets holds exactly addrs.
func hasSetWith(sets map[string][]string, addrs ...string) bool {
	sort.Strings(addrs)
	for _, have := range sets {
		if slices.Equal(have, addrs) || (len(have) == 0 && len(addrs) == 0) {
			return true
		}
	}
	return false
}

// aclWith returns the first ACL whose match contains every part.
func aclWith(acls []nbdb.ACL, parts ...string) (nbdb.ACL, bool) {
	for _, a := range acls {
		if containsAll(a.Match, parts...) {
			return a, true
		}
	}
	return nbdb.ACL{}, false
}
