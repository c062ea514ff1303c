package e2e

import (
	"fmt"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/annotation"
	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
	"github.com/ovnet/ovnet/test/harness"
)

const (
	// centralNS is the namespace (and Subnet) with the centralized gateway.
	centralNS   = "central"
	centralCIDR = "10.81.0.0/24"
	// hostPort is where a probe server listens in each node's own
	// namespace, standing for a host-network service.
	hostPort = 9090
)

// TestCentralizedEgress: a namespace centralized on n2,n3 leaves through
// n2 from pods on every node, masqueraded to n2's address or, with NAT
// off, with the pod's own; when n2 stops forwarding (cable pulled, daemon
// or ovn-controller killed, Node NotReady) a steady stream of connections
// resumes through n3 and comes back to n2 once it is restored; the
// namespace switches between distributed and centralized, NAT on and off,
// live; and its pods still reach every node's own services.
func TestCentralizedEgress(t *testing.T) {
	e := newEnv(t)
	o := e.outsideNodes("n1", "n2", "n3")
	e.namespace(centralNS, map[string]string{annotation.CIDR: centralCIDR,
		annotation.GatewayType: string(ovnetv1.GatewayCentralized), annotation.GatewayNode: "n2,n3"})
	pods := make([]*harness.Sandbox, len(o.nodes))
	for i, n := range o.nodes {
		pods[i] = n.Runtime(t).AddPod(t, e.pod(centralNS, "c-"+n.Name, n.Name, nil))
	}
	e.activeGateway(t, centralNS, "n2", "")

	t.Run("NAT on: every pod leaves through n2", func(t *testing.T) {
		for i, p := range pods {
			until(t, fmt.Sprintf("pod on %s to the far server as n2", o.nodes[i].Name), func() error {
				return farSees(e.connect(p, "tcp", farTarget(harness.FarIP)))(nodeAddr(1))
			})
		}
	})
	t.Run("NAT off: the far server sees the pod, TCP completes", func(t *testing.T) {
		e.annotateNamespace(t, centralNS, map[string]string{annotation.GatewayNAT: "false"})
		o.ext.Route(t, netip.MustParsePrefix(centralCIDR), nodeAddr(1))
		for i, p := range pods {
			until(t, fmt.Sprintf("pod on %s to the far server with its own address", o.nodes[i].Name), func() error {
				return farSees(e.connect(p, "tcp", farTarget(harness.FarIP)))(p.IP)
			})
		}
		e.annotateNamespace(t, centralNS, map[string]string{annotation.GatewayNAT: "true"})
		until(t, "NAT on again", func() error {
			return farSees(e.connect(pods[0], "tcp", farTarget(harness.FarIP)))(nodeAddr(1))
		})
	})
	t.Run("host network of every node", func(t *testing.T) {
		for i, n := range o.nodes {
			e.serveOnNode(t, n, nodeAddr(i))
		}
		for i, p := range pods {
			for j := range o.nodes {
				target := netip.AddrPortFrom(nodeAddr(j), hostPort).String()
				until(t, fmt.Sprintf("pod on %s to %s", o.nodes[i].Name, target), func() error {
					_, err := e.connect(p, "tcp", target)
					return err
				})
			}
		}
	})
	t.Run("failover", func(t *testing.T) {
		n2 := o.nodes[1]
		faults := []struct {
			name          string
			stop, restore func(t *testing.T)
			// why is what GatewayReady then says of n2: the fault was
			// seen for what it is.
			why string
		}{
			{"cable pulled", func(t *testing.T) { o.ul.Unplug(t, n2.Chassis) }, func(t *testing.T) { o.ul.Plug(t, n2.Chassis) },
				"n2: uplink br-phy: no physical port of OVS bridge br-phy has its link up (eth1 down)"},
			{"daemon killed", func(t *testing.T) { n2.KillDaemon(t) }, func(t *testing.T) { n2.StartDaemon(t) },
				"n2: its daemon stopped reporting"},
			{"ovn-controller killed", func(t *testing.T) { n2.Chassis.KillController(t) },
				func(t *testing.T) { n2.Chassis.RestartController(t) }, "n2: ovn-controller does not answer"},
			{"node NotReady", func(t *testing.T) { e.nodeReady(t, "n2", corev1.ConditionFalse) },
				func(t *testing.T) { e.nodeReady(t, "n2", corev1.ConditionTrue) }, "n2: the node is NotReady"},
		}
		for _, f := range faults {
			t.Run(f.name, func(t *testing.T) {
				stream := harness.StartStream(t, e.probe, pods[0], netip.AddrPortFrom(harness.FarIP, farPort))
				stream.WaitThrough(t, waitTimeout, time.Now(), nodeAddr(1))
				stopped := time.Now()
				f.stop(t)
				a := stream.WaitThrough(t, waitTimeout, stopped, nodeAddr(2))
				t.Logf("%s: first connection through n3 %s after the fault", f.name, a.End.Sub(stopped).Round(time.Millisecond))
				e.activeGateway(t, centralNS, "n3", f.why)
				e.gatewayEvent(t, centralNS, `"n2" -> "n3"`)
				restored := time.Now()
				f.restore(t)
				stream.WaitThrough(t, waitTimeout, restored, nodeAddr(1))
				e.activeGateway(t, centralNS, "n2", "")
			})
		}
	})
	t.Run("switched live", func(t *testing.T) {
		podIP := func(i int) (netip.Addr, bool) { return pods[i].IP, true }
		steps := []struct {
			name string
			set  map[string]string
			// route, if not -1, routes the subnet back via that node: the
			// pods' own addresses need it.
			route int
			// seen is the address the far server sees from pods[i]; false
			// skips the pod.
			seen func(i int) (netip.Addr, bool)
		}{
			{"distributed", map[string]string{annotation.GatewayType: string(ovnetv1.GatewayDistributed)}, -1,
				func(i int) (netip.Addr, bool) { return nodeAddr(i), true }},
			// Only the pod on n1 gets its replies: they come back via n1.
			{"distributed, NAT off", map[string]string{annotation.GatewayNAT: "false"}, 0,
				func(i int) (netip.Addr, bool) { return pods[i].IP, i == 0 }},
			{"centralized, NAT off", map[string]string{annotation.GatewayType: string(ovnetv1.GatewayCentralized)}, 1, podIP},
			{"centralized, NAT on", map[string]string{annotation.GatewayNAT: "true"}, -1,
				func(int) (netip.Addr, bool) { return nodeAddr(1), true }},
		}
		for _, s := range steps {
			t.Run(s.name, func(t *testing.T) {
				e.annotateNamespace(t, centralNS, s.set)
				if s.route >= 0 {
					o.ext.Route(t, netip.MustParsePrefix(centralCIDR), nodeAddr(s.route))
				}
				for i, p := range pods {
					want, check := s.seen(i)
					if !check {
						continue
					}
					until(t, fmt.Sprintf("pod on %s seen as %s", o.nodes[i].Name, want), func() error {
						return farSees(e.connect(p, "tcp", farTarget(harness.FarIP)))(want)
					})
				}
			})
		}
	})
}

// annotateNamespace merges annotations into the namespace.
func (e *env) annotateNamespace(t *testing.T, name string, set map[string]string) {
	t.Helper()
	ns := &corev1.Namespace{}
	if err := e.c.Get(e.ctx, client.ObjectKey{Name: name}, ns); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(ns.DeepCopy())
	for k, v := range set {
		ns.Annotations[k] = v
	}
	if err := e.c.Patch(e.ctx, ns, patch); err != nil {
		t.Fatalf("annotate namespace %s: %v", name, err)
	}
}

// activeGateway waits until the Subnet's status names gw as its active
// gateway with GatewayReady true, its message containing why.
func (e *env) activeGateway(t *testing.T, subnet, gw, why string) {
	t.Helper()
	until(t, fmt.Sprintf("subnet %s egress through %s", subnet, gw), func() error {
		s := &ovnetv1.Subnet{}
		if err := e.c.Get(e.ctx, client.ObjectKey{Name: subnet}, s); err != nil {
			return err
		}
		ready := false
		for _, c := range s.Status.Conditions {
			ready = ready || c.Type == ovnetv1.ConditionGatewayReady && c.Status == metav1.ConditionTrue &&
				strings.Contains(c.Message, why)
		}
		if s.Status.ActiveGateway != gw || !ready {
			return fmt.Errorf("activeGateway %q, conditions %+v", s.Status.ActiveGateway, s.Status.Conditions)
		}
		return nil
	})
}

// gatewayEvent waits for a GatewayChanged Event on the Subnet whose note
// contains substr.
func (e *env) gatewayEvent(t *testing.T, subnet, substr string) {
	t.Helper()
	e.eventOn(t, subnet, ovnetv1.ReasonGatewayChanged, substr)
}

// eventOn waits for an Event of reason on the object named regarding
// whose note contains substr.
func (e *env) eventOn(t *testing.T, regarding, reason, substr string) {
	t.Helper()
	until(t, reason+" event on "+regarding+": "+substr, func() error {
		var list eventsv1.EventList
		if err := e.c.List(e.ctx, &list); err != nil {
			return err
		}
		for _, ev := range list.Items {
			if ev.Regarding.Name == regarding && ev.Reason == reason && strings.Contains(ev.Note, substr) {
				return nil
			}
		}
		return fmt.Errorf("none among %d events", len(list.Items))
	})
}

// nodeReady sets the Node's Ready condition, as a kubelet (or the node
// lifecycle controller) would.
func (e *env) nodeReady(t *testing.T, name string, status corev1.ConditionStatus) {
	t.Helper()
	node := &corev1.Node{}
	if err := e.c.Get(e.ctx, client.ObjectKey{Name: name}, node); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(node.DeepCopy())
	now := metav1.Now()
	node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status, Reason: "E2E",
		Message: "set by the test", LastHeartbeatTime: now, LastTransitionTime: now}}
	if err := e.c.Status().Patch(e.ctx, node, patch); err != nil {
		t.Fatalf("node %s Ready=%s: %v", name, status, err)
	}
}

// serveOnNode runs the probe server in the node's own namespace on
// hostPort, a host-network service, until the test ends.
func (e *env) serveOnNode(t *testing.T, n *harness.Node, addr netip.Addr) {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", n.Chassis.NetNS, e.probe, "serve", "--tcp", strconv.Itoa(hostPort))
	if err := cmd.Start(); err != nil {
		t.Fatalf("probe serve on %s: %v", n.Name, err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	until(t, "probe server on node "+n.Name, func() error {
		_, err := nodeExec(n, e.probe, "connect", "tcp", netip.AddrPortFrom(addr, hostPort).String(), "--timeout", "1s")
		return err
	})
}
