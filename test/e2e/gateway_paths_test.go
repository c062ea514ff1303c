package e2e

import (
	"fmt"
	"net/netip"
	"os/exec"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/test/harness"
)

// hostServicePort is the port of the probe server the tests run in a
// node's own namespace, a host-network service.
const hostServicePort = 9100

// serveHostNetwork runs the probe server on TCP and UDP port in the node's
// namespace until the test ends.
func (e *env) serveHostNetwork(n *harness.Node, port int) {
	e.t.Helper()
	p := fmt.Sprint(port)
	cmd := exec.Command("ip", "netns", "exec", n.Chassis.NetNS, e.probe, "serve", "--tcp", p, "--udp", p)
	if err := cmd.Start(); err != nil {
		e.t.Fatalf("probe serve on node %s: %v", n.Name, err)
	}
	e.t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
}

// patchNamespaceAnnotations sets the namespace's annotations; a nil
// value removes one.
func (e *env) patchNamespaceAnnotations(t *testing.T, name string, set map[string]*string) {
	t.Helper()
	patch := mustJSON(t, map[string]any{"metadata": map[string]any{"annotations": set}})
	ns := &corev1.Namespace{}
	ns.Name = name
	if err := e.c.Patch(e.ctx, ns, client.RawPatch(types.MergePatchType, patch)); err != nil {
		t.Fatalf("annotate namespace %s: %v", name, err)
	}
}

// farSeesPod waits until a connection from the pod to the far server
// answers and the far server saw want as the client.
func (e *env) farSeesPod(t *testing.T, pod *harness.Sandbox, want netip.Addr) {
	t.Helper()
	e.farSeesPodAt(t, pod, harness.FarIP, want)
}

// farSeesPodAt is farSeesPod to the far server's address far, of either
// family.
func (e *env) farSeesPodAt(t *testing.T, pod *harness.Sandbox, far, want netip.Addr) {
	t.Helper()
	until(t, fmt.Sprintf("far server at %s sees %s as pod %s's address", far, want, pod.Pod.Name), func() error {
		return farSees(e.connect(pod, "tcp", farTarget(far)))(want)
	})
}

// TestEgressGuard: with a route on the external host to a pod subnet via
// the pod's node, a new connection from outside to a pod of a NAT subnet
// is dropped on the node while the pod's own connections out work; a pod
// of a subnet without NAT is reachable that way, and sees the external
// host's address.
func TestEgressGuard(t *testing.T) {
	e := newEnv(t)
	o := e.outsideNodes("n1", "n2")
	guarded, open := netip.MustParsePrefix("10.82.0.0/24"), netip.MustParsePrefix("10.83.0.0/24")
	e.namespace("guarded", map[string]string{annotation.CIDR: guarded.String()})
	e.namespace("open", map[string]string{annotation.CIDR: open.String(), annotation.GatewayNAT: "false"})
	for i, n := range o.nodes {
		t.Run(n.Name, func(t *testing.T) {
			natPod := n.Runtime(t).AddPod(t, e.pod("guarded", "guarded-"+n.Name, n.Name, nil))
			plainPod := n.Runtime(t).AddPod(t, e.pod("open", "open-"+n.Name, n.Name, nil))
			for _, s := range []*harness.Sandbox{natPod, plainPod} {
				e.serve(s, "--tcp", fmt.Sprint(backendTCP), "--udp", fmt.Sprint(backendUDP))
			}
			o.ext.Route(t, guarded, nodeAddr(i))
			o.ext.Route(t, open, nodeAddr(i))

			e.farSeesPod(t, natPod, nodeAddr(i))
			for _, proto := range []struct{ name, port string }{{"tcp", fmt.Sprint(backendTCP)}, {"udp", fmt.Sprint(backendUDP)}} {
				target := plainPod.IP.String() + ":" + proto.port
				until(t, fmt.Sprintf("%s from outside to %s, NAT off", proto.name, target), func() error {
					a, err := e.connectFromOutside(o, proto.name, target)
					if err == nil && a.client != harness.ExternalHostIP {
						return fmt.Errorf("pod saw client %s, want %s", a.client, harness.ExternalHostIP)
					}
					return err
				})
				// The pod serves (a refusal would look like a drop to a
				// careless check): only the guard stops the connection.
				target = natPod.IP.String() + ":" + proto.port
				if out, err := natPod.Exec(e.probe, "connect", proto.name, target, "--timeout", "2s"); err != nil {
					t.Fatalf("the NAT pod's own server at %s: %v: %s", target, err, out)
				}
				for range 3 {
					if err := e.dropped(o, proto.name, target); err != nil {
						t.Fatalf("NAT on: %v", err)
					}
				}
			}
			// The guard leaves the pod's own connections alone.
			e.farSeesPod(t, natPod, nodeAddr(i))
		})
	}
}

// TestPodsReachNodes: pods reach their own node's address and the other
// node's, host-network services there, over TCP and UDP; and still do
// once their namespace's egress is centralized on the other node.
func TestPodsReachNodes(t *testing.T) {
	e := newEnv(t)
	o := e.outsideNodes("n1", "n2")
	for _, n := range o.nodes {
		e.serveHostNetwork(n, hostServicePort)
	}
	e.namespace("central", map[string]string{annotation.CIDR: "10.84.0.0/24"})
	var defaults, central []*harness.Sandbox
	for _, n := range o.nodes {
		defaults = append(defaults, n.Runtime(t).AddPod(t, e.pod("default", "pod-"+n.Name, n.Name, nil)))
		central = append(central, n.Runtime(t).AddPod(t, e.pod("central", "central-"+n.Name, n.Name, nil)))
	}
	reachNodes := func(t *testing.T, pods []*harness.Sandbox) {
		t.Helper()
		for _, pod := range pods {
			for j, n := range o.nodes {
				for _, proto := range []string{"tcp", "udp"} {
					target := netip.AddrPortFrom(nodeAddr(j), hostServicePort).String()
					until(t, fmt.Sprintf("%s from %s to node %s at %s", proto, pod.Pod.Name, n.Name, target), func() error {
						who, err := e.answeredBy(pod, proto, target)
						if err == nil && who != nodeAddr(j).String() {
							return fmt.Errorf("answered on %s", who)
						}
						return err
					})
				}
			}
		}
	}
	t.Run("distributed", func(t *testing.T) { reachNodes(t, append(defaults, central...)) })
	t.Run("centralized on n2", func(t *testing.T) {
		e.patchNamespaceAnnotations(t, "central", map[string]*string{
			annotation.GatewayType: ptr.To("centralized"), annotation.GatewayNode: ptr.To("n2")})
		for _, pod := range central {
			e.farSeesPod(t, pod, nodeAddr(1))
		}
		reachNodes(t, central)
	})
}

// TestEgressSwitchesLive: one namespace, pods on both nodes, its egress
// switched by annotations only: distributed with NAT (the far server sees
// each pod's node), NAT off (the pods' addresses), centralized on n1 with
// NAT and without, and back to distributed; no daemon restarts.
func TestEgressSwitchesLive(t *testing.T) {
	e := newEnv(t)
	o := e.outsideNodes("n1", "n2")
	cidr := netip.MustParsePrefix("10.85.0.0/24")
	e.namespace("live", map[string]string{annotation.CIDR: cidr.String()})
	var pods []*harness.Sandbox
	pids := map[string]int{}
	for _, n := range o.nodes {
		pods = append(pods, n.Runtime(t).AddPod(t, e.pod("live", "live-"+n.Name, n.Name, nil)))
		pids[n.Name] = n.DaemonPID()
	}
	distributed := func(t *testing.T) {
		for i, pod := range pods {
			e.farSeesPod(t, pod, nodeAddr(i))
		}
	}
	steps := []struct {
		name string
		set  map[string]*string
		// check waits until egress is as the step wants.
		check func(t *testing.T)
	}{
		{name: "distributed with NAT", check: distributed},
		{name: "distributed without NAT", set: map[string]*string{annotation.GatewayNAT: ptr.To("false")},
			check: func(t *testing.T) {
				for i, pod := range pods {
					o.ext.Route(t, cidr, nodeAddr(i))
					e.farSeesPod(t, pod, pod.IP)
				}
			}},
		{name: "centralized on n1 with NAT", set: map[string]*string{annotation.GatewayNAT: nil,
			annotation.GatewayType: ptr.To("centralized"), annotation.GatewayNode: ptr.To("n1")},
			check: func(t *testing.T) {
				for _, pod := range pods {
					e.farSeesPod(t, pod, nodeAddr(0))
				}
			}},
		{name: "centralized on n1 without NAT", set: map[string]*string{annotation.GatewayNAT: ptr.To("false")},
			check: func(t *testing.T) {
				o.ext.Route(t, cidr, nodeAddr(0))
				for _, pod := range pods {
					e.farSeesPod(t, pod, pod.IP)
				}
			}},
		{name: "back to distributed", set: map[string]*string{annotation.GatewayNAT: nil,
			annotation.GatewayType: nil, annotation.GatewayNode: nil}, check: distributed},
	}
	for _, step := range steps {
		if !t.Run(step.name, func(t *testing.T) {
			if step.set != nil {
				e.patchNamespaceAnnotations(t, "live", step.set)
			}
			step.check(t)
		}) {
			break // each step starts from the one before
		}
	}
	for _, n := range o.nodes {
		if pid := n.DaemonPID(); pid != pids[n.Name] {
			t.Errorf("daemon of %s restarted: pid %d, was %d", n.Name, pid, pids[n.Name])
		}
	}
}
