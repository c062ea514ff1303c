package integration

import (
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/annotation"
	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
	"github.com/ovnet/ovnet/pkg/netpol"
	"github.com/ovnet/ovnet/pkg/ovnname"
	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
	"github.com/ovnet/ovnet/test/harness"
)

// rebuildTimeout bounds the wait for the rebuilt database: the controller
// notices the loss within a second of reconnecting and rewrites these few
// dozen rows in well under that; this only catches a rebuild that never
// comes.
const rebuildTimeout = 60 * time.Second

// The northbound database deleted and recreated empty under a running
// controller comes back with the same rows, compared row by row without
// UUIDs, and not one pod or node record rewritten.
func TestNorthboundLostIsRebuilt(t *testing.T) {
	e := newEnv(t)
	pods := buildRebuildCluster(e)
	before := e.convergedDump()
	t.Logf("northbound before: %d rows %v", len(before), before.Tables())
	records := e.records()

	e.nb.RestartEmpty(t)
	e.view = harness.WatchNorthbound(t, e.nb.Endpoint)
	if n := len(e.view.Dump(t)); n != 0 {
		t.Logf("the new database already holds %d rows when first seen", n)
	}
	start := time.Now()
	var diff []string
	e.timeout = rebuildTimeout
	e.eventually("northbound rebuilt row by row", func() error {
		if diff = e.view.Dump(t).Diff(before); len(diff) > 0 {
			return fmt.Errorf("%d rows differ", len(diff))
		}
		return nil
	})
	t.Logf("rebuilt %d rows in %.2fs", len(before), time.Since(start).Seconds())
	time.Sleep(settle)
	if diff = e.view.Dump(t).Diff(before); len(diff) > 0 {
		t.Errorf("rows changed after the rebuild:\n%s", strings.Join(diff, "\n"))
	}

	after := e.records()
	for key, rec := range records {
		if !maps.Equal(after[key], rec) {
			t.Errorf("%s's record changed across the rebuild: %v -> %v", key, rec, after[key])
		}
	}
	e.noAddressTwice(pods)
}

// buildRebuildCluster makes one of each thing ovnet writes and returns the
// number of pods it addressed.
func buildRebuildCluster(e *env) int {
	e.t.Helper()
	e.labeledNamespace("rb-a", map[string]string{"team": "a"}, map[string]string{annotation.CIDR: "10.57.0.0/24",
		annotation.Private: "true", annotation.Allow: "10.58.0.0/24", annotation.ExcludeIPs: "10.57.0.2..10.57.0.9"})
	e.labeledNamespace("rb-b", map[string]string{"team": "b"}, map[string]string{annotation.CIDR: "10.58.0.0/24"})
	e.condition("rb-a", ovnetv1.ConditionReady, metav1.ConditionTrue, "")
	e.condition("rb-b", ovnetv1.ConditionReady, metav1.ConditionTrue, "")
	e.gatewayNode("worker-1", "172.18.0.11")
	e.gatewayNode("worker-2", "172.18.0.12")

	pods := 0
	for i := range 4 {
		e.labeledPod("rb-a", fmt.Sprintf("web-%d", i), map[string]string{"app": "web"}, map[string]int32{"http": 8080})
		pods++
	}
	fixed := map[string]string{annotation.IPAddress: "10.57.0.50", annotation.MACAddress: "0a:00:00:00:57:50"}
	client := newPod("rb-a", "client", fixed)
	client.Labels = map[string]string{"app": "client"}
	if err := e.c.Create(e.ctx, client); err != nil {
		e.t.Fatal(err)
	}
	e.addressed("rb-a", "client")
	pods++
	for i := range 3 {
		e.labeledPod("rb-b", fmt.Sprintf("b-%d", i), map[string]string{"app": "b"}, nil)
		e.labeledPod("default", fmt.Sprintf("d-%d", i), nil, nil)
		pods += 2
	}

	e.createPolicy(webPolicy("rb-a"))
	block := intstr.FromInt32(53)
	e.createPolicy(&networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: "rb-b", Name: "egress-dns"},
		Spec: networkingv1.NetworkPolicySpec{PodSelector: *sel("app", "b"),
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress: []networkingv1.NetworkPolicyEgressRule{{
				To:    []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.96.0.10/32"}}, {PodSelector: sel("app", "b")}},
				Ports: []networkingv1.NetworkPolicyPort{{Port: &block, Protocol: ptr.To(corev1.ProtocolUDP)}},
			}}},
	})

	web := e.service(newService("web", port("http", corev1.ProtocolTCP, 80, intstr.FromString("http")),
		port("dns", corev1.ProtocolUDP, 53, intstr.FromInt32(5353))))
	e.slice(web, "web-1", []discoveryv1.EndpointPort{slicePort("http", corev1.ProtocolTCP, 8080), slicePort("dns", corev1.ProtocolUDP, 5353)},
		endpoint{ip: "10.57.0.10"}, endpoint{ip: "10.57.0.11"})
	other := newService("other", port("", corev1.ProtocolTCP, 443, intstr.FromInt32(8443)))
	other.Namespace = "rb-b"
	e.service(other)
	e.slice(other, "other-1", []discoveryv1.EndpointPort{slicePort("", corev1.ProtocolTCP, 8443)}, endpoint{ip: "10.58.0.2"})

	for _, lb := range []string{lbName(web, "tcp"), lbName(web, "udp"), lbName(other, "tcp")} {
		e.eventually("load balancer "+lb, func() error {
			if row := e.view.LoadBalancer(e.t, lb); row == nil || len(row.Vips) == 0 {
				return fmt.Errorf("no load balancer with vips")
			}
			return nil
		})
	}
	e.waitPortGroup(ovnname.PolicyPortGroup("rb-a", "allow-web"), []string{"web-0.rb-a", "web-1.rb-a", "web-2.rb-a", "web-3.rb-a"},
		func([]nbdb.ACL) error { return nil })
	e.waitPortGroup(ovnname.DenyPortGroup("rb-b", netpol.Egress), []string{"b-0.rb-b", "b-1.rb-b", "b-2.rb-b"},
		func([]nbdb.ACL) error { return nil })
	return pods
}

// convergedDump waits until the database holds still for settle and
// returns its rows.
func (e *env) convergedDump() harness.NBDump {
	e.t.Helper()
	var last harness.NBDump
	e.eventually("northbound settled", func() error {
		e.view.ResetChanges()
		last = e.view.Dump(e.t)
		time.Sleep(settle)
		if n := e.view.Changes(); n != 0 {
			return fmt.Errorf("%d row changes within %s", n, settle)
		}
		return nil
	})
	return last
}

// records maps every pod and node to the allocation record on it.
func (e *env) records() map[string]map[string]string {
	e.t.Helper()
	var pods corev1.PodList
	var nodes corev1.NodeList
	for _, list := range []client.ObjectList{&pods, &nodes} {
		if err := e.c.List(e.ctx, list); err != nil {
			e.t.Fatal(err)
		}
	}
	out := map[string]map[string]string{}
	for _, p := range pods.Items {
		out["pod "+p.Namespace+"/"+p.Name] = p.Annotations
	}
	for _, n := range nodes.Items {
		out["node "+n.Name] = n.Annotations
	}
	return out
}

// noAddressTwice checks that no address is held twice, that the Subnets
// count exactly the pods and nodes holding one, and that a pod created
// now gets an address nobody holds.
func (e *env) noAddressTwice(pods int) {
	e.t.Helper()
	held := map[string]string{}
	for key, rec := range e.records() {
		ip := rec[annotation.IPAddress]
		if ip == "" {
			continue
		}
		if other, dup := held[ip]; dup {
			e.t.Errorf("%s held by both %s and %s", ip, other, key)
		}
		held[ip] = key
	}
	if want := pods + 2; len(held) != want {
		e.t.Errorf("%d addresses held, want %d (pods and nodes)", len(held), want)
	}
	e.eventually("subnet usage counts the holders", func() error {
		var used int64
		var list ovnetv1.SubnetList
		if err := e.c.List(e.ctx, &list); err != nil {
			return err
		}
		for _, s := range list.Items {
			used += s.Status.UsedIPs
		}
		if used != int64(len(held)) {
			return fmt.Errorf("subnets count %d used, %d held", used, len(held))
		}
		return nil
	})
	e.pod("rb-a", "late", nil)
	late := e.addressed("rb-a", "late")
	if ip := late.Annotations[annotation.IPAddress]; held[ip] != "" {
		e.t.Fatalf("pod created after the rebuild got %s, held by %s", ip, held[ip])
	}
	e.checkPort(late)
}
