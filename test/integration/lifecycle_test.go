package integration

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/annotation"
	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
	"github.com/ovnet/ovnet/test/harness"
)

// settle is how long a restarted controller is watched for writes after it
// reports ready; its reconcilers go through every object well within it.
const settle = 3 * time.Second

func (e *env) nbctl(args ...string) string {
	e.t.Helper()
	out, err := exec.Command("ovn-nbctl", append([]string{"--db=" + e.nb.Endpoint}, args...)...).CombinedOutput()
	if err != nil {
		e.t.Fatalf("ovn-nbctl %v: %v: %s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestNodeJoinAddressPortAndRoute(t *testing.T) {
	e := newEnv(t)
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "worker-1"}}
	if err := e.c.Create(e.ctx, node); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(node.DeepCopy())
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.168.50.10"}}
	if err := e.c.Status().Patch(e.ctx, node, patch); err != nil {
		t.Fatal(err)
	}
	var joinIP string
	e.eventually("node annotated", func() error {
		if err := e.c.Get(e.ctx, client.ObjectKeyFromObject(node), node); err != nil {
			return err
		}
		a := node.Annotations
		if a[annotation.Allocated] != annotation.True || a[annotation.LogicalSwitch] != "join" ||
			a[annotation.PortName] != "node-worker-1" || a[annotation.Gateway] != "100.64.0.1" {
			return fmt.Errorf("annotations %v", a)
		}
		joinIP = a[annotation.IPAddress]
		return nil
	})
	if !strings.HasPrefix(joinIP, "100.64.") {
		t.Fatalf("join address %s not in 100.64.0.0/16", joinIP)
	}
	e.eventually("node port and route", func() error {
		lsp := e.view.SwitchPort(t, "node-worker-1")
		if lsp == nil || len(lsp.Addresses) != 1 || !strings.HasSuffix(lsp.Addresses[0], " "+joinIP) {
			return fmt.Errorf("port node-worker-1: %+v", lsp)
		}
		if !contains(e.view.PortsOf(t, e.view.Switch(t, "join")), "node-worker-1") {
			return fmt.Errorf("node-worker-1 not on join")
		}
		routes := e.routesTo("192.168.50.10")
		if len(routes) != 1 || routes[0].Nexthop != joinIP {
			return fmt.Errorf("routes to the node: %+v", routes)
		}
		return nil
	})
	if err := e.c.Delete(e.ctx, node); err != nil {
		t.Fatal(err)
	}
	e.eventually("node rows removed", func() error {
		if e.view.SwitchPort(t, "node-worker-1") != nil || len(e.routesTo("192.168.50.10")) != 0 {
			return fmt.Errorf("port or route of the deleted node remains")
		}
		return nil
	})
}

// policyCount counts ovn-cluster's policies with the match.
func (e *env) policyCount(match string) int {
	n := 0
	for _, p := range e.policies() {
		if p.match == match {
			n++
		}
	}
	return n
}

// routesTo lists the static routes on ovn-cluster for prefix.
func (e *env) routesTo(prefix string) []nbdb.LogicalRouterStaticRoute {
	lr := e.view.Router(e.t, "ovn-cluster")
	return harness.List(e.t, e.view, func(r *nbdb.LogicalRouterStaticRoute) bool {
		return r.IPPrefix == prefix && lr != nil && contains(lr.StaticRoutes, r.UUID)
	})
}

func TestGarbageCollectionTouchesOnlyOwnedRows(t *testing.T) {
	e := newEnv(t)
	e.condition("ovn-default", ovnetv1.ConditionReady, metav1.ConditionTrue, "")
	owned := func(kind, ns, name string) []string {
		ids := []string{"external_ids:ovnet.io/owner=ovnet", "external_ids:ovnet.io/kind=" + kind, "external_ids:ovnet.io/name=" + name}
		if ns != "" {
			ids = append(ids, "external_ids:ovnet.io/namespace="+ns)
		}
		return ids
	}
	// Rows somebody else wrote, some on ovnet's own switch and router.
	e.nbctl("ls-add", "foreign", "--", "lsp-add", "foreign", "foreign-port",
		"--", "lsp-add", "ovn-default", "stranger", "--", "lr-route-add", "ovn-cluster", "192.0.2.0/24", "100.64.0.250")
	// Rows that look like ovnet's but whose objects do not exist.
	e.nbctl(append([]string{"lsp-add", "ovn-default", "ghost.nowhere", "--", "set", "logical_switch_port", "ghost.nowhere"},
		owned("Pod", "nowhere", "ghost")...)...)
	e.nbctl(append([]string{"ls-add", "old-subnet", "--", "set", "logical_switch", "old-subnet"}, owned("Subnet", "", "old-subnet")...)...)
	// Router policies: one somebody else wrote, one of a node that is gone.
	e.nbctl("lr-policy-add", "ovn-cluster", "100", "ip4.src == 192.0.2.1", "allow")
	e.nbctl("lr-policy-add", "ovn-cluster", "200", "ip4.src == 192.0.2.2", "allow")
	uuid := e.nbctl("--bare", "--columns=_uuid", "find", "logical_router_policy", "priority=200")
	e.nbctl(append([]string{"set", "logical_router_policy", uuid}, owned("Node", "", "gone-node")...)...)

	e.eventually("periodic sweep removes the orphans", func() error {
		if e.view.SwitchPort(t, "ghost.nowhere") != nil || e.view.Switch(t, "old-subnet") != nil {
			return fmt.Errorf("orphaned rows remain")
		}
		if e.policyCount("ip4.src == 192.0.2.2") != 0 {
			return fmt.Errorf("the gone node's policy remains")
		}
		return nil
	})
	// A restart sweeps too, and still leaves foreign rows alone.
	e.nbctl(append([]string{"lsp-add", "ovn-default", "ghost2.nowhere", "--", "set", "logical_switch_port", "ghost2.nowhere"},
		owned("Pod", "nowhere", "ghost2")...)...)
	e.restartController()
	e.eventually("startup sweep removes the orphan", func() error {
		if e.view.SwitchPort(t, "ghost2.nowhere") != nil {
			return fmt.Errorf("ghost2.nowhere remains")
		}
		return nil
	})
	if e.view.Switch(t, "foreign") == nil || e.view.SwitchPort(t, "foreign-port") == nil ||
		e.view.SwitchPort(t, "stranger") == nil || len(e.routesTo("192.0.2.0/24")) != 1 || e.policyCount("ip4.src == 192.0.2.1") != 1 {
		t.Fatal("garbage collection removed rows ovnet does not own")
	}
	if !contains(e.view.PortsOf(t, e.view.Switch(t, "ovn-default")), "stranger") {
		t.Fatal("foreign port detached from ovn-default")
	}
}

func TestRestartWritesNothing(t *testing.T) {
	e := newEnv(t)
	e.namespace("keep", map[string]string{annotation.CIDR: "10.54.0.0/24", annotation.ExcludeIPs: "10.54.0.2..10.54.0.9"})
	e.condition("keep", ovnetv1.ConditionReady, metav1.ConditionTrue, "")
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "worker-1"}}
	if err := e.c.Create(e.ctx, node); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		ann := map[string]string{}
		switch i % 4 {
		case 1:
			ann[annotation.IPAddress] = fmt.Sprintf("10.54.0.%d", 100+i)
		case 2:
			ann[annotation.IPPool] = fmt.Sprintf("10.54.0.%d,10.54.0.%d", 200+i, 201+i)
		}
		e.pod("keep", fmt.Sprintf("p%d", i), ann)
		e.addressed("keep", fmt.Sprintf("p%d", i))
	}
	e.eventually("usage settled", func() error {
		if s := e.subnet("keep"); s.Status.UsedIPs != 20 {
			return fmt.Errorf("used %d", s.Status.UsedIPs)
		}
		return nil
	})
	// The cluster's OVN options come with the cluster, underlay or not,
	// and the restart below must find them right.
	if got := e.nbctl("get", "NB_Global", ".", "options:use_ct_inv_match"); strings.Trim(got, `"`) != "false" {
		t.Errorf("NB_Global options:use_ct_inv_match is %s, want false", got)
	}
	e.ctrl.Stop(t)
	time.Sleep(settle) // let the last status and annotation writes land before counting
	before := e.resourceVersions()
	e.view.ResetChanges()

	e.ctrl = harness.StartController(t, e.api, e.nb, harness.DefaultNetwork())
	time.Sleep(settle)
	if n := e.view.Changes(); n != 0 {
		t.Errorf("restart with nothing changed made %d northbound row changes, want 0", n)
	}
	after := e.resourceVersions()
	for key, rv := range before {
		if after[key] != rv {
			t.Errorf("restart rewrote %s (resourceVersion %s -> %s)", key, rv, after[key])
		}
	}

	// Allocations survived: a new pod gets an address nobody holds.
	taken := map[string]bool{}
	var pods corev1.PodList
	if err := e.c.List(e.ctx, &pods, client.InNamespace("keep")); err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		taken[p.Annotations[annotation.IPAddress]] = true
	}
	e.pod("keep", "late", nil)
	if ip := e.addressed("keep", "late").Annotations[annotation.IPAddress]; taken[ip] {
		t.Fatalf("pod created after the restart got %s, already held", ip)
	}
}

// resourceVersions maps every pod, node and Subnet to its resourceVersion.
func (e *env) resourceVersions() map[string]string {
	e.t.Helper()
	rvs := map[string]string{}
	var pods corev1.PodList
	var nodes corev1.NodeList
	var subnets ovnetv1.SubnetList
	for _, list := range []client.ObjectList{&pods, &nodes, &subnets} {
		if err := e.c.List(e.ctx, list); err != nil {
			e.t.Fatal(err)
		}
	}
	for _, p := range pods.Items {
		rvs["pod/"+p.Namespace+"/"+p.Name] = p.ResourceVersion
	}
	for _, n := range nodes.Items {
		rvs["node/"+n.Name] = n.ResourceVersion
	}
	for _, s := range subnets.Items {
		rvs["subnet/"+s.Name] = s.ResourceVersion
	}
	return rvs
}
