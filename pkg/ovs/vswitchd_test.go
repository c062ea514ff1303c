package ovs_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ovnet/ovnet/pkg/ovs"
)

// startVswitchd runs ovs-vswitchd against the server, in a network
// namespace of its own: its taps (ovs-netdev, one per bridge and internal
// port) cannot clash with another switch on the host. At cleanup it is
// told to exit and remove its taps, then killed by PID if still there.
// It returns the namespace's name.
func startVswitchd(t *testing.T, s *server) string {
	t.Helper()
	lookPath(t, "ovs-vswitchd")
	ns := fmt.Sprintf("ovnet-ovs-%d-%d", os.Getpid(), time.Now().UnixNano()%1e6)
	if out, err := exec.Command(lookPath(t, "ip"), "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", ns, err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	ctl := filepath.Join(s.dir, "vswitchd.ctl")
	// ip netns exec execs ovs-vswitchd in place, so cmd's PID is the switch's.
	cmd := exec.Command("ip", "netns", "exec", ns, "ovs-vswitchd", s.endpoint, "--disable-system",
		"--pidfile="+filepath.Join(s.dir, "vswitchd.pid"), "--log-file="+filepath.Join(s.dir, "vswitchd.log"),
		"--unixctl="+ctl, "-vconsole:off")
	// Its run directory holds a management socket per bridge; keep it private.
	cmd.Env = append(os.Environ(), "OVS_RUNDIR="+s.dir)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start ovs-vswitchd: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		if out, err := exec.Command("ovs-appctl", "-t", ctl, "exit", "--cleanup").CombinedOutput(); err != nil {
			t.Errorf("ovs-appctl exit --cleanup: %v: %s", err, out)
		}
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			t.Errorf("ovs-vswitchd did not exit within 5s; killing it")
			_ = cmd.Process.Kill()
			<-exited
		}
		// Checked before the namespace goes, which would take taps with it.
		if links := links(t, ns); len(links) != 1 || links[0] != "lo" {
			t.Errorf("devices left in the switch's namespace after exit --cleanup: %v", links)
		}
	})
	waitForFile(t, ctl)
	return ns
}

// links lists the network devices in the namespace.
func links(t *testing.T, ns string) []string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", ns, "ip", "-o", "link", "show").CombinedOutput()
	if err != nil {
		t.Fatalf("ip link show in %s: %v: %s", ns, err, out)
	}
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		// "2: br-x: <BROADCAST,...> ..."
		if fields := strings.Fields(line); len(fields) > 1 {
			names = append(names, strings.TrimSuffix(strings.Split(fields[1], "@")[0], ":"))
		}
	}
	return names
}

func TestWaitInterfaceReadyWithVswitchd(t *testing.T) {
	f := newFixture(t)
	ns := startVswitchd(t, f.server)
	ctx := testContext(t)
	if err := f.client.EnsureBridge(ctx, ovs.Bridge{Name: "br-x", DatapathType: ovs.DatapathNetdev, FailMode: ovs.FailModeSecure}); err != nil {
		t.Fatal(err)
	}
	if err := f.client.EnsurePort(ctx, ovs.Port{Bridge: "br-x", Name: "px0", Type: ovs.PortTypeInternal}); err != nil {
		t.Fatal(err)
	}
	if err := f.client.WaitInterfaceReady(ctx, "px0"); err != nil {
		t.Fatal(err)
	}
	st, err := f.client.InterfaceState("px0")
	if err != nil || st.OFPort <= 0 {
		t.Fatalf("InterfaceState(px0) = %+v, %v; want ofport > 0", st, err)
	}
	if devs := links(t, ns); !slices.Contains(devs, "px0") || !slices.Contains(devs, "br-x") {
		t.Fatalf("devices in the switch's namespace: %v, want the taps px0 and br-x", devs)
	}

	// A system port whose device does not exist: the switch says why.
	if err := f.client.EnsurePort(ctx, ovs.Port{Bridge: "br-x", Name: "nosuchdev0"}); err != nil {
		t.Fatal(err)
	}
	err = f.client.WaitInterfaceReady(ctx, "nosuchdev0")
	if err == nil || !strings.Contains(err.Error(), "nosuchdev0") {
		t.Fatalf("WaitInterfaceReady(nosuchdev0) = %v, want the switch's error", err)
	}
	ports, err := f.client.ListPorts("br-x")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ports {
		if p.Name == "nosuchdev0" && (p.Error == "" || p.OFPort != -1) {
			t.Errorf("ListPorts: %+v, want ofport -1 and an error", p)
		}
		if p.Name == "px0" && p.OFPort != st.OFPort {
			t.Errorf("ListPorts: %+v, want ofport %d", p, st.OFPort)
		}
	}
}

func TestWaitInterfaceReadyTimesOut(t *testing.T) {
	f := newFixture(t)
	newBridge(t, f)
	ctx := testContext(t)
	// No ovs-vswitchd: nobody ever assigns an ofport.
	if err := f.client.EnsurePort(ctx, ovs.Port{Bridge: "br-int", Name: "p0", Type: ovs.PortTypeInternal}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"p0", "absent"} {
		short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		err := f.client.WaitInterfaceReady(short, name)
		cancel()
		if err == nil || short.Err() == nil {
			t.Fatalf("WaitInterfaceReady(%s) = %v, want a timeout", name, err)
		}
	}
}
