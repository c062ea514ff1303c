package e2e

import (
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/containernetworking/cni/pkg/types"
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
