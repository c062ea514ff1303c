package integration

import (
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/annotation"
	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
	"github.com/ovnet/ovnet/test/harness"
)

func TestDefaultTopology(t *testing.T) {
	e := newEnv(t)
	if e.view.Router(t, "ovn-cluster") == nil {
		t.Fatal("cluster router ovn-cluster missing")
	}
	for _, want := range []struct{ name, cidr, gateway string }{
		{"ovn-default", "10.16.0.0/16", "10.16.0.1/16"},
		{"join", "100.64.0.0/16", "100.64.0.1/16"},
	} {
		e.condition(want.name, ovnetv1.ConditionReady, metav1.ConditionTrue, "")
		e.checkSubnetRows(want.name, want.cidr, want.gateway)
	}
	// What `kubectl get subnets` shows: gateway in force and usage, zero included.
	e.eventually("kubectl get subnets", func() error {
		out := e.kubectl("get", "subnets", "--no-headers")
		for _, row := range []string{`join\s+100.64.0.0/16\s+100.64.0.1\s+0\s+65533\s+True`,
			`ovn-default\s+10.16.0.0/16\s+10.16.0.1\s+0\s+65533\s+True`} {
			if !regexp.MustCompile(row).MatchString(out) {
				return fmt.Errorf("no row matching %q in:\n%s", row, out)
			}
		}
		return nil
	})
}

// kubectl runs the cached kubectl against the test's API server.
func (e *env) kubectl(args ...string) string {
	e.t.Helper()
	dir, err := harness.KubeAssetsDir()
	if err != nil {
		e.t.Fatal(err)
	}
	out, err := exec.Command(filepath.Join(dir, "kubectl"), append([]string{"--kubeconfig=" + e.api.Kubeconfig}, args...)...).CombinedOutput()
	if err != nil {
		e.t.Fatalf("kubectl %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// checkSubnetRows checks the switch, its router port on ovn-cluster and
// the switch's router-type port.
func (e *env) checkSubnetRows(name, cidr, gatewayNet string) {
	e.t.Helper()
	e.eventually("northbound rows of subnet "+name, func() error {
		ls := e.view.Switch(e.t, name)
		if ls == nil {
			return fmt.Errorf("no logical switch %s", name)
		}
		if ls.OtherConfig["subnet"] != cidr {
			return fmt.Errorf("switch other_config %v, want subnet=%s", ls.OtherConfig, cidr)
		}
		lrp := e.view.RouterPort(e.t, "ovn-cluster-"+name)
		if lrp == nil || len(lrp.Networks) != 1 || lrp.Networks[0] != gatewayNet {
			return fmt.Errorf("router port ovn-cluster-%s: %+v, want networks [%s]", name, lrp, gatewayNet)
		}
		lr := e.view.Router(e.t, "ovn-cluster")
		if lr == nil || !contains(lr.Ports, lrp.UUID) {
			return fmt.Errorf("router port ovn-cluster-%s not on ovn-cluster", name)
		}
		lsp := e.view.SwitchPort(e.t, name+"-ovn-cluster")
		if lsp == nil || lsp.Type != "router" || lsp.Options["router-port"] != "ovn-cluster-"+name {
			return fmt.Errorf("switch router port %s-ovn-cluster: %+v", name, lsp)
		}
		if !contains(ls.Ports, lsp.UUID) {
			return fmt.Errorf("port %s-ovn-cluster not on switch %s", name, name)
		}
		return nil
	})
}

func TestNamespaceAnnotationsMakeSubnet(t *testing.T) {
	e := newEnv(t)
	e.namespace("blue", map[string]string{
		annotation.CIDR:       "10.66.0.0/24",
		annotation.Gateway:    "10.66.0.254",
		annotation.ExcludeIPs: "10.66.0.1..10.66.0.10,10.66.0.20",
	})
	e.condition("blue", ovnetv1.ConditionReady, metav1.ConditionTrue, "")
	s := e.subnet("blue")
	if s.Spec.CIDR != "10.66.0.0/24" || s.Spec.Gateway != "10.66.0.254" || len(s.Spec.ExcludeIPs) != 2 {
		t.Fatalf("subnet spec %+v", s.Spec)
	}
	if s.Labels["ovnet.io/namespace"] != "blue" || len(s.OwnerReferences) != 1 || s.OwnerReferences[0].Kind != "Namespace" {
		t.Fatalf("subnet not owned by namespace blue: labels %v owners %v", s.Labels, s.OwnerReferences)
	}
	e.checkSubnetRows("blue", "10.66.0.0/24", "10.66.0.254/24")

	// 254 usable addresses - gateway - 11 excluded = 242 available.
	e.eventually("usage of blue", func() error {
		s := e.subnet("blue")
		if s.Status.UsedIPs != 0 || s.Status.AvailableIPs != 242 {
			return fmt.Errorf("used %d available %d, want 0 and 242", s.Status.UsedIPs, s.Status.AvailableIPs)
		}
		return nil
	})
	seen := map[netip.Addr]string{}
	for i := range 20 {
		e.pod("blue", fmt.Sprintf("p%d", i), nil)
	}
	for i := range 20 {
		p := e.addressed("blue", fmt.Sprintf("p%d", i))
		ip := podIP(t, p)
		if other, dup := seen[ip]; dup {
			t.Fatalf("pods %s and %s both got %s", other, p.Name, ip)
		}
		seen[ip] = p.Name
		a := p.Annotations
		if a[annotation.LogicalSwitch] != "blue" || a[annotation.CIDR] != "10.66.0.0/24" || a[annotation.Gateway] != "10.66.0.254" {
			t.Fatalf("pod %s annotations %v", p.Name, a)
		}
		excluded := ip.Compare(netip.MustParseAddr("10.66.0.10")) <= 0 || ip.String() == "10.66.0.20" || ip.String() == "10.66.0.254"
		if !netip.MustParsePrefix("10.66.0.0/24").Contains(ip) || excluded {
			t.Fatalf("pod %s got %s: outside the subnet, excluded or the gateway", p.Name, ip)
		}
		e.checkPort(p)
	}
	e.eventually("usage after 20 pods", func() error {
		s := e.subnet("blue")
		if s.Status.UsedIPs != 20 || s.Status.AvailableIPs != 222 {
			return fmt.Errorf("used %d available %d, want 20 and 222", s.Status.UsedIPs, s.Status.AvailableIPs)
		}
		return nil
	})
}

func TestNamespaceSubnetChanges(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace("green", map[string]string{annotation.CIDR: "10.70.0.0/24"})
	e.condition("green", ovnetv1.ConditionReady, metav1.ConditionTrue, "")
	p := e.addressed(e.pod("green", "web", nil).Namespace, "web")
	oldIP := podIP(t, p)

	// Widening keeps every address inside: accepted, the pod keeps its address.
	e.annotate(ns, annotation.CIDR, "10.70.0.0/16")
	e.checkSubnetRows("green", "10.70.0.0/16", "10.70.0.1/16")
	if got := podIP(t, e.addressed("green", "web")); got != oldIP {
		t.Fatalf("pod address changed from %s to %s", oldIP, got)
	}

	// A CIDR that leaves the pod's address outside is refused; the old one stays.
	e.annotate(ns, annotation.CIDR, "10.71.0.0/24")
	msg := e.condition("green", ovnetv1.ConditionValidated, metav1.ConditionFalse, ovnetv1.ReasonAllocationsOutside)
	if !containsAll(msg, oldIP.String()) {
		t.Fatalf("condition message %q does not name the address in the way (%s)", msg, oldIP)
	}
	e.event("Subnet", "", "green", ovnetv1.ReasonAllocationsOutside, oldIP.String())
	e.checkSubnetRows("green", "10.70.0.0/16", "10.70.0.1/16")

	// Annotations removed: the Subnet is deleted only once its last pod is gone.
	e.annotate(ns, annotation.CIDR, "")
	e.condition("green", ovnetv1.ConditionReady, metav1.ConditionFalse, ovnetv1.ReasonInUse)
	if e.view.Switch(t, "green") == nil {
		t.Fatal("switch green removed while a pod still uses it")
	}
	e.deletePod("green", "web")
	e.eventually("subnet green deleted", func() error {
		err := e.c.Get(e.ctx, client.ObjectKey{Name: "green"}, &ovnetv1.Subnet{})
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("subnet still there: %v", err)
		}
		if e.view.Switch(t, "green") != nil || e.view.RouterPort(t, "ovn-cluster-green") != nil {
			return fmt.Errorf("northbound rows of green still there")
		}
		return nil
	})
	// New pods of the namespace now go to the default subnet.
	if got := e.addressed(e.pod("green", "next", nil).Namespace, "next").Annotations[annotation.LogicalSwitch]; got != "ovn-default" {
		t.Fatalf("new pod placed in %s, want ovn-default", got)
	}
}

func (e *env) annotate(obj client.Object, key, value string) {
	e.t.Helper()
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, key, value)
	if value == "" {
		patch = fmt.Sprintf(`{"metadata":{"annotations":{%q:null}}}`, key)
	}
	if err := e.c.Patch(e.ctx, obj, client.RawPatch("application/merge-patch+json", []byte(patch))); err != nil {
		e.t.Fatalf("annotate %s: %v", obj.GetName(), err)
	}
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !stringsContains(s, p) {
			return false
		}
	}
	return true
}
