package ovs_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ovnet/ovnet/pkg/ovs"
)

// newBridge makes br-int, as the daemon does before wiring any pod.
func newBridge(t *testing.T, f *fixture) {
	t.Helper()
	err := f.client.EnsureBridge(testContext(t), ovs.Bridge{Name: "br-int", DatapathType: ovs.DatapathNetdev, FailMode: ovs.FailModeSecure})
	if err != nil {
		t.Fatal(err)
	}
}

func podPort(containerID string) ovs.Port {
	mtu := 1400
	return ovs.Port{Bridge: "br-int", Name: "abc_h", ExternalIDs: map[string]string{
		"iface-id": "pod1.ns1", "pod_namespace": "ns1", "pod_name": "pod1", "container_id": containerID,
	}, MTURequest: &mtu}
}

func TestPortLifecycle(t *testing.T) {
	f := newFixture(t)
	ctx := testContext(t)
	newBridge(t, f)

	tests := []struct {
		name string
		do   func() error
		txns uint64
		get  []string
		want string
	}{
		{"created", func() error { return f.client.EnsurePort(ctx, podPort("c1")) }, 1,
			[]string{"list-ports", "br-int"}, "abc_h"},
		{"iface-id", func() error { return f.client.EnsurePort(ctx, podPort("c1")) }, 0,
			[]string{"get", "interface", "abc_h", "external_ids:iface-id"}, "pod1.ns1"},
		{"mtu_request", func() error { return f.client.EnsurePort(ctx, podPort("c1")) }, 0,
			[]string{"get", "interface", "abc_h", "mtu_request"}, "1400"},
		{"external_ids updated", func() error { return f.client.EnsurePort(ctx, podPort("c2")) }, 1,
			[]string{"get", "interface", "abc_h", "external_ids:container_id"}, "c2"},
		{"foreign key kept", func() error {
			if _, err := f.tryVsctl("set", "interface", "abc_h", "external_ids:ovn-installed=true"); err != nil {
				return err
			}
			return f.client.EnsurePort(ctx, podPort("c2"))
		}, 0, []string{"get", "interface", "abc_h", "external_ids:ovn-installed"}, `"true"`},
		{"deleted", func() error { return f.client.DeletePort(ctx, "br-int", "abc_h") }, 1,
			[]string{"list-ports", "br-int"}, ""},
		{"no interface left", func() error { return f.client.DeletePort(ctx, "br-int", "abc_h") }, 0,
			[]string{"--columns=name", "--bare", "list", "interface"}, "br-int"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.step(t, tt.txns, tt.do)
			if got := f.vsctl(t, tt.get...); got != tt.want {
				t.Fatalf("ovs-vsctl %v = %q, want %q", tt.get, got, tt.want)
			}
		})
	}
}

func TestListPorts(t *testing.T) {
	f := newFixture(t)
	ctx := testContext(t)
	newBridge(t, f)
	if err := f.client.EnsurePort(ctx, podPort("c1")); err != nil {
		t.Fatal(err)
	}
	ports, err := f.client.ListPorts("br-int")
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]ovs.PortInfo{}
	for _, p := range ports {
		byName[p.Name] = p
	}
	if len(ports) != 2 || byName["br-int"].Type != ovs.PortTypeInternal {
		t.Fatalf("ports = %+v, want the pod's and the bridge's local port", ports)
	}
	if got := byName["abc_h"].ExternalIDs["iface-id"]; got != "pod1.ns1" {
		t.Fatalf("abc_h iface-id = %q, want pod1.ns1", got)
	}
	if _, err := f.client.ListPorts("br-none"); !errors.Is(err, ovs.ErrBridgeNotFound) {
		t.Fatalf("ListPorts of a missing bridge: err %v, want ErrBridgeNotFound", err)
	}
}

func TestEnsurePortErrors(t *testing.T) {
	f := newFixture(t)
	ctx := testContext(t)
	err := f.client.EnsurePort(ctx, ovs.Port{Bridge: "br-none", Name: "p"})
	if !errors.Is(err, ovs.ErrBridgeNotFound) {
		t.Fatalf("EnsurePort on a missing bridge: err %v, want ErrBridgeNotFound", err)
	}
	if _, err := f.client.InterfaceState("p"); !errors.Is(err, ovs.ErrInterfaceNotFound) {
		t.Fatalf("InterfaceState of a missing interface: err %v, want ErrInterfaceNotFound", err)
	}
}

func TestEnsurePortMovesBetweenBridges(t *testing.T) {
	f := newFixture(t)
	ctx := testContext(t)
	newBridge(t, f)
	if err := f.client.EnsureBridge(ctx, ovs.Bridge{Name: "br-ex", DatapathType: ovs.DatapathNetdev}); err != nil {
		t.Fatal(err)
	}
	port := podPort("c1")
	f.step(t, 1, func() error { return f.client.EnsurePort(ctx, port) })
	port.Bridge = "br-ex"
	f.step(t, 1, func() error { return f.client.EnsurePort(ctx, port) })
	if got := f.vsctl(t, "port-to-br", "abc_h"); got != "br-ex" {
		t.Fatalf("port-to-br abc_h = %q, want br-ex", got)
	}
	if got := f.vsctl(t, "list-ports", "br-int"); strings.Contains(got, "abc_h") {
		t.Fatalf("abc_h still on br-int: %q", got)
	}
}

// The daemon wires pods in parallel: each port is its own transaction, and
// the bridge's port list is mutated, not rewritten, so none is lost.
func TestEnsurePortConcurrently(t *testing.T) {
	f := newFixture(t)
	ctx := testContext(t)
	newBridge(t, f)
	const pods = 16
	errs := make(chan error, pods)
	for i := range pods {
		go func() {
			errs <- f.client.EnsurePort(ctx, ovs.Port{Bridge: "br-int", Name: fmt.Sprintf("pod%d_h", i),
				ExternalIDs: map[string]string{"iface-id": fmt.Sprintf("pod%d.ns1", i)}})
		}()
	}
	for range pods {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := strings.Fields(f.vsctl(t, "list-ports", "br-int")); len(got) != pods {
		t.Fatalf("ovs-vsctl list-ports br-int: %d ports %v, want %d", len(got), got, pods)
	}
}
