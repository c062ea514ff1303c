package controller

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/ovnet/ovnet/pkg/annotation"
	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
	"github.com/ovnet/ovnet/pkg/ipam"
)

// FuzzNamespaceAnnotations feeds any values to a namespace's subnet
// annotations, through the same steps as the reconcilers: the Subnet they
// describe, then its checks (ipamConfig, parseEgress). Properties: no
// panic; a refusal is a specError with a reason (what the condition
// shows); a described Subnet carries the namespace and trimmed, non-empty
// list entries; an accepted one has its gateway inside its CIDR, clear of
// the service CIDR, excludes that touch the CIDR, allow entries that are
// CIDRs, and for a centralized gateway distinct node names.
func FuzzNamespaceAnnotations(f *testing.F) {
	for _, s := range [][9]string{
		{"10.1.0.0/24", "", "", "", "", "", "", "", ""},
		{"10.1.0.0/24", "net", "10.1.0.254", "10.1.0.2, 10.1.0.5..10.1.0.9", "true", "10.2.0.0/16", "centralized", "n1,n2", "false"},
		{"10.1.0.5/24", "", "10.9.0.1", "10.1.0.9..10.1.0.3", "", "x", "centralised", "", ""},
		{"10.96.0.0/16", "", "", ",,", "", " , ", "centralized", "n1,n1", ""},
		{"fd00::/64", "", "fd00::1", "fd00::5", "", "fd01::/64", "centralized", "N_1,n:1", ""},
		{" ", "a", "", "", "", "", "", "", ""},
	} {
		f.Add(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8])
	}
	n := &Network{Config: Config{ServiceCIDRs: []netip.Prefix{netip.MustParsePrefix("10.96.0.0/12")}}}
	f.Fuzz(func(t *testing.T, cidr, ls, gateway, excludes, private, allow, gwType, gwNode, nat string) {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns1", Annotations: map[string]string{
			annotation.CIDR: cidr, annotation.LogicalSwitch: ls, annotation.Gateway: gateway,
			annotation.ExcludeIPs: excludes, annotation.Private: private, annotation.Allow: allow,
			annotation.GatewayType: gwType, annotation.GatewayNode: gwNode, annotation.GatewayNAT: nat}}}
		subnet, ok := subnetFromNamespace(ns)
		if ok != (strings.TrimSpace(cidr) != "") {
			t.Fatalf("cidr %q described a subnet: %v", cidr, ok)
		}
		if !ok {
			return
		}
		checkDescribed(t, subnet)
		cfg, err := n.ipamConfig(subnet.Name, subnet.Spec)
		if err == nil {
			for _, half := range cfg.halves() {
				checkAcceptedConfig(t, n, half, subnet.Spec)
			}
			if cfg.IPv6 != nil && (!cfg.CIDR.Addr().Is4() || !cfg.IPv6.CIDR.Addr().Is6()) {
				t.Fatalf("dual-stack subnet accepted with %s and %s", cfg.CIDR, cfg.IPv6.CIDR)
			}
		}
		egress, eerr := parseEgress(subnet.Spec)
		if eerr == nil && egress.centralized {
			for i, node := range egress.nodes {
				if len(validation.IsDNS1123Subdomain(node)) > 0 || slices.Contains(egress.nodes[:i], node) {
					t.Fatalf("gateway nodes %q accepted from %q", egress.nodes, gwNode)
				}
			}
		}
		for _, err := range []error{err, eerr} {
			var se *specError
			if err != nil && (!errors.As(err, &se) || se.Reason == "" || se.Error() == "") {
				t.Fatalf("refusal %v has no reason", err)
			}
		}
	})
}

// checkDescribed asserts the shape of a Subnet built from annotations.
func checkDescribed(t *testing.T, s *ovnetv1.Subnet) {
	t.Helper()
	spec := s.Spec
	if s.Name == "" || s.Labels[LabelNamespace] != "ns1" || !slices.Equal(spec.Namespaces, []string{"ns1"}) ||
		spec.CIDR != strings.TrimSpace(spec.CIDR) || spec.GatewayType == "" || spec.NATOutgoing == nil {
		t.Fatalf("described subnet %s %+v", s.Name, spec)
	}
	for _, list := range [][]string{spec.ExcludeIPs, spec.Allow} {
		for _, entry := range list {
			if entry == "" || entry != strings.TrimSpace(entry) || strings.Contains(entry, ",") {
				t.Fatalf("list entry %q in %+v", entry, spec)
			}
		}
	}
}

// checkAcceptedConfig asserts what the allocator and the NB writes rely on.
func checkAcceptedConfig(t *testing.T, n *Network, cfg ipam.SubnetConfig, spec ovnetv1.SubnetSpec) {
	t.Helper()
	if !cfg.CIDR.Contains(cfg.Gateway) || cfg.CIDR.Overlaps(n.Config.ServiceCIDRs[0]) {
		t.Fatalf("accepted %+v from %+v", cfg, spec)
	}
	for _, r := range cfg.Excludes {
		if r.Last.Less(r.First) || r.First.Is4() != cfg.CIDR.Addr().Is4() {
			t.Fatalf("accepted exclude %v in %s", r, cfg.CIDR)
		}
	}
	for _, a := range spec.Allow {
		if _, err := netip.ParsePrefix(strings.TrimSpace(a)); err != nil {
			t.Fatalf("accepted allow entry %q", a)
		}
	}
}

// FuzzPoolRequest feeds any ip_pool value and pod name, for a StatefulSet
// pod and a plain one. Properties: no panic; a refusal is a badAnnotation
// naming ip_pool; a StatefulSet pod is given exactly the entry of its
// ordinal, a plain pod every entry as candidates, in order, all valid.
func FuzzPoolRequest(f *testing.F) {
	for _, s := range []struct{ pool, name string }{
		{"10.0.0.5,10.0.0.6,10.0.0.7", "db-1"}, {"10.0.0.5", "db-3"}, {"10.0.0.5,nope", "db-0"},
		{"10.0.0.5,,10.0.0.6", "db-01"}, {" fd00::1 , 10.0.0.1", "db--1"}, {"10.0.0.1", "db-99999999999999999999"},
	} {
		f.Add(s.pool, s.name)
	}
	f.Fuzz(func(t *testing.T, pool, name string) {
		for _, pod := range []*corev1.Pod{stsPod(name, "db"), {ObjectMeta: metav1.ObjectMeta{Name: name}}} {
			reqs := []ipam.Request{{}}
			err := poolRequest(reqs, pod, pool)
			req := reqs[0]
			var bad *badAnnotation
			if err != nil {
				if !errors.As(err, &bad) || bad.Key != annotation.IPPool {
					t.Fatalf("refusal %v is no ip_pool annotation error", err)
				}
				continue
			}
			entries, perr := ipam.ParsePool(strings.ReplaceAll(pool, ";", ","))
			if perr != nil || len(entries) == 0 {
				t.Fatalf("pool %q accepted, but ParsePool says %v", pool, perr)
			}
			if _, ordinal, ok := statefulSetOf(pod); ok {
				if ordinal < 0 || ordinal >= len(entries) || req.IP != entries[ordinal] || req.Pool != nil {
					t.Fatalf("pod %s of pool %q got %v, %v", name, pool, req.IP, req.Pool)
				}
				continue
			}
			if req.IP.IsValid() || !slices.Equal(req.Pool, entries) {
				t.Fatalf("plain pod of pool %q got %v, %v", pool, req.IP, req.Pool)
			}
		}
	})
}
