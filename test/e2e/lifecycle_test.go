package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/ovnet/ovnet/test/harness"
)

// DEL leaves no veth and no OVS port, and a second DEL (the runtime
// retrying after the namespace is gone) succeeds; GC removes an
// attachment the runtime forgot; CHECK notices a deleted interface.
func TestDelGCCheck(t *testing.T) {
	e := newEnv(t)
	n := e.node("n1")
	rt := n.Runtime(t)
	kept := rt.AddPod(t, e.pod("default", "kept", "n1", nil))
	gone := rt.AddPod(t, e.pod("default", "gone", "n1", nil))
	stale := rt.AddPod(t, e.pod("default", "stale", "n1", nil))
	if got := len(podPorts(t, n)); got != 3 {
		t.Fatalf("%d pod ports after three ADDs, want 3", got)
	}
	ctx := context.Background()
	if err := rt.Check(ctx, kept); err != nil {
		t.Fatalf("CHECK of a healthy pod: %v", err)
	}

	if err := rt.Del(ctx, gone); err != nil {
		t.Fatalf("DEL: %v", err)
	}
	if err := rt.Del(ctx, gone); err != nil {
		t.Fatalf("second DEL: %v", err)
	}
	// The runtime retrying after the namespace and the pod are gone.
	gone.NetnsOverride = "/run/netns/" + gone.NetNS + "-deleted"
	gone.Pod = e.podObject("default", "never-existed")
	if err := rt.Del(ctx, gone); err != nil {
		t.Fatalf("DEL without namespace or pod: %v", err)
	}
	if ports := podPorts(t, n); len(ports) != 2 {
		t.Errorf("ports after DEL: %v, want 2", ports)
	}
	if veths := hostVeths(t, n); len(veths) != 2 {
		t.Errorf("veths after DEL: %v, want 2", veths)
	}

	// The runtime lost track of "stale": GC with only "kept" valid.
	if err := rt.GC(ctx, kept); err != nil {
		t.Fatalf("GC: %v", err)
	}
	ports := podPorts(t, n)
	if len(ports) != 1 || len(hostVeths(t, n)) != 1 {
		t.Fatalf("after GC: ports %v, veths %v; want only kept's", ports, hostVeths(t, n))
	}
	stale.NetnsOverride = "" // its namespace still exists; DEL in cleanup must still succeed
	ping(t, kept, kept.IP.String())

	if _, err := kept.Exec("ip", "link", "del", "eth0"); err != nil {
		t.Fatal(err)
	}
	err := rt.Check(ctx, kept)
	var cniErr *types.Error
	if !errors.As(err, &cniErr) || !strings.Contains(cniErr.Msg, "eth0") {
		t.Fatalf("CHECK after deleting eth0 = %v, want an error naming eth0", err)
	}
}

// STATUS follows the Open_vSwitch database: unreachable, then back.
func TestStatus(t *testing.T) {
	e := newEnv(t)
	n := e.node("n1")
	rt := n.Runtime(t)
	ctx := context.Background()
	if err := rt.Status(ctx); err != nil {
		t.Fatalf("STATUS of a healthy node: %v", err)
	}
	// A stopped ovsdb-server keeps its connections open but answers
	// nothing: the case a connection check alone would miss.
	db, err := os.FindProcess(n.Chassis.OVS.PID)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	restored := false
	restore := func() {
		if !restored {
			_ = db.Signal(syscall.SIGCONT)
			restored = true
		}
	}
	t.Cleanup(restore)
	e.eventually("STATUS reports OVS unreachable", func() error {
		err := rt.Status(ctx)
		var cniErr *types.Error
		if errors.As(err, &cniErr) && cniErr.Code == 50 && strings.Contains(cniErr.Msg, "Open_vSwitch") {
			return nil
		}
		return errors.New("STATUS = " + errString(err))
	})
	restore()
	e.eventually("STATUS ready again", func() error { return rt.Status(ctx) })
	// And the node still serves ADD.
	rt.AddPod(t, e.pod("default", "after", "n1", nil))
	if len(podPorts(t, n)) != 1 {
		t.Errorf("pod ports = %v", podPorts(t, n))
	}
}

func errString(err error) string {
	if err == nil {
		return "success"
	}
	return err.Error()
}

// STATUS follows the API server too: cut off, then back.
func TestStatusWithoutAPIServer(t *testing.T) {
	e := newEnv(t)
	proxy, kubeconfig := startAPIProxy(t, e.api)
	n := e.node("n1", "--kubeconfig="+kubeconfig)
	rt := n.Runtime(t)
	ctx := context.Background()
	if err := rt.Status(ctx); err != nil {
		t.Fatalf("STATUS of a healthy node: %v", err)
	}
	proxy.setCut(true)
	e.eventually("STATUS reports the API server unreachable", func() error {
		err := rt.Status(ctx)
		var cniErr *types.Error
		if errors.As(err, &cniErr) && cniErr.Code == 50 && strings.Contains(cniErr.Msg, "API server") {
			return nil
		}
		return errors.New("STATUS = " + errString(err))
	})
	proxy.setCut(false)
	e.eventually("STATUS ready again", func() error { return rt.Status(ctx) })
	rt.AddPod(t, e.pod("default", "after", "n1", nil))
}

// Two ADDs of one pod wait for its address at once (a runtime retrying a
// sandbox with a new container ID) and the first gives up before the pod
// is addressed: the second is still woken and wired as soon as it is.
func TestConcurrentAddsOfOnePod(t *testing.T) {
	e := newEnv(t)
	n := e.node("n1")
	rt := n.Runtime(t)
	pod := e.podObject("default", "retried")
	pod.Spec.NodeName = "n1"
	first, second := rt.NewSandbox(t, pod), rt.NewSandbox(t, pod)
	firstCtx, giveUp := context.WithCancel(context.Background())
	defer giveUp()
	firstErr, secondErr := make(chan error, 1), make(chan error, 1)
	go func() { firstErr <- rt.Add(firstCtx, first) }()
	go func() { secondErr <- rt.Add(context.Background(), second) }()
	// The pod does not exist yet: both ADDs wait, until the first gives up.
	time.Sleep(time.Second)
	giveUp()
	if err := <-firstErr; err == nil {
		t.Fatal("the first ADD succeeded although its pod did not exist")
	}
	e.eventually("the daemon saw the first ADD give up", func() error {
		if series := `ovnet_cni_request_duration_seconds_count{command="ADD",result="11"} 1`; !strings.Contains(scrape(t, n.MetricsAddr), series) {
			return errors.New("no " + series)
		}
		return nil
	})
	if err := e.c.Create(e.ctx, pod); err != nil {
		t.Fatal(err)
	}
	// Well under the daemon's --address-timeout of 20 s: addressing takes
	// milliseconds once the pod exists.
	select {
	case err := <-secondErr:
		if err != nil {
			t.Fatalf("the second ADD: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the second ADD was not woken when the pod was addressed")
	}
	ping(t, second, second.IP.String())
	if ports := podPorts(t, n); len(ports) != 1 {
		t.Errorf("pod ports %v, want the second ADD's only", ports)
	}
}

// An ADD that fails late leaves no OVS port and no veth behind, even
// when the runtime has given up on the request already and the
// Open_vSwitch database is briefly out of reach; and ADD's wait for
// ovs-vswitchd is bounded by the daemon, not only by the runtime.
func TestFailedAddLeavesNothing(t *testing.T) {
	e := newEnv(t)
	n := e.node("n1", "--ovn-timeout=60s")
	rt := n.Runtime(t)
	tests := []struct {
		name string
		// pid is the process stopped while ADD runs.
		pid int
		// timeout is the runtime's: it gives up first when ovn-controller
		// hangs; the daemon answers first when ovs-vswitchd does.
		timeout time.Duration
		// disconnect takes the database's socket away while ADD waits and
		// until a second after the runtime gave up.
		disconnect bool
		wantMsg    string
	}{
		{"ovn-controller hangs and the runtime gives up", n.Chassis.ControllerPID, 3 * time.Second, false, ""},
		{"the runtime gives up while the database is out of reach", n.Chassis.ControllerPID, 3 * time.Second, true, ""},
		{"ovs-vswitchd hangs", n.Chassis.VswitchdPID, 25 * time.Second, false, "not ready"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := rt.NewSandbox(t, e.pod("default", fmt.Sprintf("late%d", i), "n1", nil))
			stopped := suspend(t, tt.pid)
			ctx, cancel := context.WithTimeout(context.Background(), tt.timeout)
			defer cancel()
			if tt.disconnect {
				t.Cleanup(func() {
					_, _ = runTool("ovs-appctl", "-t", n.Chassis.OVS.Control, "ovsdb-server/add-remote", "punix:"+n.Chassis.OVS.Socket)
				})
				go func() {
					time.Sleep(tt.timeout / 2) // ADD waits for OVN by then
					disconnectOVSDB(t, n)
				}()
			}
			err := rt.Add(ctx, s)
			if err == nil || !strings.Contains(errString(err), tt.wantMsg) {
				t.Fatalf("ADD = %v, want an error mentioning %q", err, tt.wantMsg)
			}
			if tt.wantMsg != "" && ctx.Err() != nil {
				t.Fatalf("the daemon did not answer within the runtime's %s: %v", tt.timeout, err)
			}
			if tt.disconnect {
				time.Sleep(time.Second)
				reconnectOVSDB(t, n)
			}
			stopped.resume()
			until(t, "no port or veth of the failed ADD", func() error {
				if ports, veths := podPorts(t, n), hostVeths(t, n); len(ports)+len(veths) != 0 {
					return fmt.Errorf("ports %v, veths %v", ports, veths)
				}
				return nil
			})
		})
	}
}

// disconnectOVSDB makes the node's Open_vSwitch database drop its clients
// and refuse new ones; reconnectOVSDB lets them back.
func disconnectOVSDB(t *testing.T, n *harness.Node) {
	if out, err := runTool("ovs-appctl", "-t", n.Chassis.OVS.Control, "ovsdb-server/remove-remote",
		"punix:"+n.Chassis.OVS.Socket); err != nil {
		t.Errorf("%v: %s", err, out)
	}
}

func reconnectOVSDB(t *testing.T, n *harness.Node) {
	t.Helper()
	if out, err := runTool("ovs-appctl", "-t", n.Chassis.OVS.Control, "ovsdb-server/add-remote",
		"punix:"+n.Chassis.OVS.Socket); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
}

// suspended is a process stopped with SIGSTOP.
type suspended struct {
	proc    *os.Process
	resumed bool
}

// suspend stops a process of the test's until resume or the test's end.
func suspend(t *testing.T, pid int) *suspended {
	t.Helper()
	proc, err := os.FindProcess(pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := proc.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	s := &suspended{proc: proc}
	t.Cleanup(s.resume)
	return s
}

func (s *suspended) resume() {
	if !s.resumed {
		_ = s.proc.Signal(syscall.SIGCONT)
		s.resumed = true
	}
}
