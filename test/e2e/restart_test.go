package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ovnet/ovnet/test/harness"
)

// TestOVSRestartsWithTraffic restarts each Open vSwitch part of a node
// the way a crash and its supervisor would (SIGKILL, then a new process)
// while a pod on the other node pings a pod on it: traffic comes back by
// itself, with no address, port or flow rewritten by hand, and the ping's
// loss is printed. ovn-controller's flows stay in br-int while it is gone,
// so its restart loses nothing; ovs-vswitchd is the userspace datapath
// itself, so its node forwards nothing until it is back and ovn-controller
// has reinstalled the flows.
func TestOVSRestartsWithTraffic(t *testing.T) {
	e := newEnv(t)
	nodes := e.geneveNodes("n1", "n2")
	a := nodes[0].Runtime(t).AddPod(t, e.pod("default", "a", "n1", nil))
	b := nodes[1].Runtime(t).AddPod(t, e.pod("default", "b", "n2", nil))
	reachable := func(t *testing.T, what string) {
		until(t, what, func() error {
			_, err := a.Exec("ping", "-c", "1", "-W", "1", b.IP.String())
			return err
		})
	}
	// The first packet across nodes may meet the remote port still being
	// bound: wait for the path before measuring across it.
	reachable(t, "a reaches b")
	n2 := nodes[1].Chassis
	tests := []struct {
		name    string
		restart func(t *testing.T)
	}{
		{"ovn-controller", func(t *testing.T) { n2.KillController(t); n2.RestartController(t) }},
		{"ovs-vswitchd", func(t *testing.T) { n2.KillVswitchd(t); n2.RestartVswitchd(t) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loss := pingDuring(a, b.IP.String(), 100, "0.1", 2*time.Second, func() {
				start := time.Now()
				tt.restart(t)
				t.Logf("%s on n2 restarted in %s", tt.name, time.Since(start).Round(time.Millisecond))
			})
			t.Logf("FIGURE %s killed and restarted on n2: a ping every 100 ms from n1 across it: %s", tt.name, strings.TrimSpace(loss))
			// Back by itself, both ways, and the node serves a new pod.
			reachable(t, "a reaches b after the restart")
			ping(t, a, b.IP.String())
			ping(t, b, a.IP.String())
			n2.RequireVswitchd(t)
		})
	}
	c := nodes[1].Runtime(t).AddPod(t, e.pod("default", "c", "n2", nil))
	ping(t, a, c.IP.String())
}

// TestDaemonKilledMidAdd kills the daemon with SIGKILL while an ADD waits
// for ovn-controller (the pod's veth and OVS port already made), starts a
// new one, and lets the runtime do what a kubelet does next: DEL the failed
// sandbox, or, having lost track of it, GC with the sandboxes it keeps.
// Either way nothing of the half-plugged pod is left, the pod's next
// sandbox is plugged once, and the pod beside it keeps its traffic.
func TestDaemonKilledMidAdd(t *testing.T) {
	e := newEnv(t)
	n := e.node("n1")
	rt := n.Runtime(t)
	bystander := rt.AddPod(t, e.pod("default", "bystander", "n1", nil))
	tests := []struct {
		name string
		// cleanUp is the runtime's next call about the failed sandbox.
		cleanUp func(ctx context.Context, s *harness.Sandbox) error
	}{
		{"DEL", func(ctx context.Context, s *harness.Sandbox) error { return rt.Del(ctx, s) }},
		{"GC", func(ctx context.Context, s *harness.Sandbox) error {
			s.Forget()
			return rt.GC(ctx, bystander)
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := e.pod("default", fmt.Sprintf("mid%d", i), "n1", nil)
			s := rt.NewSandbox(t, pod)
			stopped := suspend(t, n.Chassis.ControllerPID)
			added := make(chan error, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
				defer cancel()
				added <- rt.Add(ctx, s)
			}()
			until(t, "ADD half way: the pod's OVS port made", func() error {
				if ports := podPorts(t, n); len(ports) < 2 {
					return fmt.Errorf("ports %v", ports)
				}
				return nil
			})
			n.KillDaemon(t)
			if err := <-added; err == nil {
				t.Fatal("ADD succeeded although its daemon was killed")
			}
			stopped.resume()
			n.StartDaemon(t)

			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			if err := tt.cleanUp(ctx, s); err != nil {
				t.Fatalf("%s after the killed ADD: %v", tt.name, err)
			}
			until(t, "only the bystander's port and veth", func() error {
				if ports, veths := podPorts(t, n), hostVeths(t, n); len(ports) != 1 || len(veths) != 1 {
					return fmt.Errorf("ports %v, veths %v", ports, veths)
				}
				return nil
			})
			again := rt.NewSandbox(t, pod)
			if err := rt.Add(ctx, again); err != nil {
				t.Fatalf("ADD of the pod's next sandbox: %v", err)
			}
			if ports := podPorts(t, n); len(ports) != 2 {
				t.Errorf("after the pod's next sandbox: ports %v, want the bystander's and its one", ports)
			}
			ping(t, again, bystander.IP.String())
		})
	}
}
