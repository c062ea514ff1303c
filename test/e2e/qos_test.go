package e2e

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/test/harness"
)

// Rate annotations are enforced in both directions, from the pod's point
// of view, with either family of keys; changed live; and removed. The
// limits are the pod interface's, whatever the family: the IPv6 subtest
// measures TCP over IPv6 between pods of a dual-stack subnet.
func TestBandwidth(t *testing.T) {
	e := newEnv(t)
	n := e.node("n1")
	e.namespace("dual", map[string]string{annotation.CIDR: "10.93.0.0/24,fd00:10:93::/120"})
	families := []struct {
		name, namespace string
		ipv6            bool
	}{
		{"IPv4", "default", false},
		{"IPv6", "dual", true},
	}
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) { bandwidthLimits(t, e, n, f.namespace, f.ipv6) })
	}
}

// bandwidthLimits is TestBandwidth in one family: two pods of namespace
// on n, measured at their addresses of that family.
func bandwidthLimits(t *testing.T, e *env, n *harness.Node, namespace string, ipv6 bool) {
	rt := n.Runtime(t)
	peer := rt.AddPod(t, e.pod(namespace, "peer", n.Name, nil))
	limited := rt.AddPod(t, e.pod(namespace, "limited", n.Name, map[string]string{
		annotation.IngressRate: "10", annotation.EgressBandwidth: "5M"}))
	peerIP, limitedIP := addrOf(t, peer, ipv6), addrOf(t, limited, ipv6)
	intoPod := func() float64 { return throughput(t, peer, limited, limitedIP) }
	outOfPod := func() float64 { return throughput(t, limited, peer, peerIP) }

	within(t, "into the pod at ingress_rate=10", intoPod, 10e6)
	within(t, "out of the pod at egress-bandwidth=5M", outOfPod, 5e6)

	e.annotate(limited.Pod, map[string]any{annotation.IngressRate: "20", annotation.EgressRate: "15"})
	host := hostInterface(t, limited)
	until(t, "ingress limit changed to 20 Mbit/s", func() error {
		got := n.Chassis.Vsctl(t, "--bare", "--columns=other_config", "list", "queue")
		if !strings.Contains(got, "max-rate=20000000") && !strings.Contains(got, `max-rate="20000000"`) {
			return fmt.Errorf("queue rows: %s", got)
		}
		// ovs-vswitchd applies the row to the kernel's shaper on its own
		// time; the rate is measured once the queue's class says 20 Mbit.
		classes, err := nodeExec(n, "tc", "class", "show", "dev", host)
		queues := strings.Count(classes, "parent 1:fffe")
		if err != nil || queues == 0 || queues != strings.Count(classes, "ceil 20Mbit") {
			return fmt.Errorf("htb classes on %s: %s %v", host, classes, err)
		}
		return nil
	})
	within(t, "into the pod after the change to 20", intoPod, 20e6)
	within(t, "out of the pod after the change to egress_rate=15", outOfPod, 15e6)

	e.annotate(limited.Pod, map[string]any{annotation.IngressRate: nil, annotation.EgressRate: nil,
		annotation.EgressBandwidth: nil})
	until(t, "limits removed", func() error {
		if got := strings.TrimSpace(n.Chassis.Vsctl(t, "get", "port", host, "qos")); got != "[]" {
			return fmt.Errorf("port qos = %s", got)
		}
		out, err := limited.Exec("tc", "qdisc", "show", "dev", "eth0")
		if err != nil || strings.Contains(out, "tbf") {
			return fmt.Errorf("eth0 qdiscs: %s %v", out, err)
		}
		return nil
	})
	into, out := intoPod(), outOfPod()
	t.Logf("without limits: %.1f Mbit/s into the pod, %.1f out of it", into/1e6, out/1e6)
	if into < 60e6 {
		t.Errorf("into the pod without limits: %.1f Mbit/s, want well above the old 20", into/1e6)
	}
	if out < 60e6 {
		t.Errorf("out of the pod without limits: %.1f Mbit/s, want well above the old 15", out/1e6)
	}
	if rows := strings.TrimSpace(n.Chassis.Vsctl(t, "--bare", "--columns=_uuid", "list", "qos")); rows != "" {
		t.Errorf("QoS rows left after removal: %s", rows)
	}
}

// addrOf is the sandbox's address of a family (IPv6 or IPv4), failing
// the test when ADD reported none.
func addrOf(t *testing.T, s *harness.Sandbox, ipv6 bool) netip.Addr {
	t.Helper()
	for _, ip := range s.IPs {
		if ip.Is6() == ipv6 {
			return ip
		}
	}
	t.Fatalf("pod %s got %v, want an address of the family (IPv6: %v)", s.Pod.Name, s.IPs, ipv6)
	return netip.Addr{}
}

// A pod annotated for mirroring has its traffic on mirror0; a pod that
// is not does not, until it is annotated.
func TestMirror(t *testing.T) {
	e := newEnv(t)
	n := e.node("n1")
	rt := n.Runtime(t)
	watched := rt.AddPod(t, e.pod("default", "watched", "n1", map[string]string{annotation.Mirror: "true"}))
	quiet := rt.AddPod(t, e.pod("default", "quiet", "n1", nil))
	other := rt.AddPod(t, e.pod("default", "other", "n1", nil))

	capture := tcpdump(t, n, func() {
		ping(t, quiet, other.IP.String())
		ping(t, watched, other.IP.String())
	})
	if !strings.Contains(capture, watched.IP.String()+" > "+other.IP.String()+": ICMP echo request") {
		t.Errorf("mirror0 did not see the annotated pod's ping:\n%s", capture)
	}
	if strings.Contains(capture, quiet.IP.String()) {
		t.Errorf("mirror0 saw a pod that is not annotated:\n%s", capture)
	}

	e.annotate(quiet.Pod, map[string]any{annotation.Mirror: "true"})
	e.eventually("the newly annotated pod is mirrored", func() error {
		capture := tcpdump(t, n, func() { ping(t, quiet, other.IP.String()) })
		if !strings.Contains(capture, quiet.IP.String()+" > "+other.IP.String()) {
			return fmt.Errorf("capture:\n%s", capture)
		}
		return nil
	})
}

// annotate merges annotations into the pod (nil values remove keys).
func (e *env) annotate(pod client.Object, annotations map[string]any) {
	e.t.Helper()
	patch := map[string]any{"metadata": map[string]any{"annotations": annotations}}
	if err := e.c.Patch(e.ctx, pod, client.RawPatch("application/merge-patch+json", mustJSON(e.t, patch))); err != nil {
		e.t.Fatalf("annotate %s: %v", pod.GetName(), err)
	}
}
