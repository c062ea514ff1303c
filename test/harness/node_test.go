package harness

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ovnet/ovnet/test/harness/wait"
)

// portUpTimeout bounds the wait for ovn-northd to mark bound ports up after
// the chassis caught up; that takes milliseconds.
const portUpTimeout = 10 * time.Second

// TestNodePing runs one chassis in its own namespace with two pods on one
// logical switch, pings from one to the other through the userspace
// datapath and OVN's flows, and then checks that the cleanups left no
// process, namespace or interface behind.
func TestNodePing(t *testing.T) {
	if _, err := exec.LookPath("ping"); err != nil {
		t.Fatalf("ping not found on PATH: install the Debian package iputils-ping")
	}
	before := childProcesses(t)
	chassisNS := UniqueName("node")
	var started map[int]string
	var pods []*TestPod
	running := t.Run("running", func(t *testing.T) {
		central := StartOVNCentral(t)
		ch := StartChassis(t, ChassisOptions{Name: "node1", SB: central.SB, NetNS: chassisNS})

		started = newProcesses(before, childProcesses(t))
		t.Logf("started %v", started)
		for _, pid := range []int{ch.OVS.PID, ch.VswitchdPID, ch.ControllerPID} {
			if started[pid] == "" {
				t.Errorf("PID %d is not a child of the test", pid)
			}
		}
		if want := []string{"ovsdb-server", "ovn-northd", "ovs-vswitchd", "ovn-controller"}; !containsAll(started, want) {
			t.Errorf("children %v, want %v among them", started, want)
		}

		a := PodSpec{Name: "a", IP: "10.16.0.2/16", MAC: "0a:58:0a:10:00:02", Gateway: "10.16.0.1"}
		b := PodSpec{Name: "b", IP: "10.16.0.3/16", MAC: "0a:58:0a:10:00:03", Gateway: "10.16.0.1"}
		nbctl := []string{"ovn-nbctl", "--db=" + central.NB.Endpoint, "--timeout=10"}
		run(t, append(nbctl, "ls-add", "ls0",
			"--", "lsp-add", "ls0", a.Name, "--", "lsp-set-addresses", a.Name, a.MAC+" 10.16.0.2",
			"--", "lsp-add", "ls0", b.Name, "--", "lsp-set-addresses", b.Name, b.MAC+" 10.16.0.3")...)
		podA := AddTestPod(t, ch, a)
		podB := AddTestPod(t, ch, b)
		pods = []*TestPod{podA, podB}

		run(t, append(nbctl, "--wait=hv", "sync")...)
		waitPortsUp(t, nbctl, a.Name, b.Name)
		if out, err := podA.Exec("ping", "-c", "3", "-W", "2", podB.IP.String()); err != nil {
			t.Fatalf("%v: %s\n%s", err, out, tail([]string{ch.LogDir + "/ovs-vswitchd.log", ch.LogDir + "/ovn-controller.log"}))
		} else {
			t.Logf("%s", lastLine(out))
		}
	})
	if !running {
		return
	}
	for pid, comm := range started {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("%s (pid %d) still exists after cleanup (kill -0: %v)", comm, pid, err)
		}
	}
	namespaces := run(t, "ip", "netns", "list")
	for _, ns := range append(namespaceNames(pods), chassisNS) {
		if netnsExists(ns) || strings.Contains(namespaces, ns) {
			t.Errorf("namespace %s still exists after cleanup: %s", ns, namespaces)
		}
	}
	leftover := []string{IntegrationBridge, datapathTap}
	for _, p := range pods {
		leftover = append(leftover, p.HostInterface)
	}
	if found, err := presentLinks("", leftover...); err != nil || len(found) > 0 {
		t.Errorf("host namespace has %v after cleanup (%v)", found, err)
	}
}

// waitPortsUp polls NB until ovn-northd reports every port up.
func waitPortsUp(t *testing.T, nbctl []string, ports ...string) {
	t.Helper()
	wait.For(t, portUpTimeout, "ports up", func() error {
		for _, port := range ports {
			if out := strings.TrimSpace(run(t, append(nbctl, "lsp-get-up", port)...)); out != "up" {
				return fmt.Errorf("port %s is %q, want up", port, out)
			}
		}
		return nil
	})
}

func namespaceNames(pods []*TestPod) []string {
	var names []string
	for _, p := range pods {
		names = append(names, p.NetNS)
	}
	return names
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// TestNodeChassisLeaves stops a chassis while OVN central runs on, in a
// namespace the test owns, and checks that it left SB and took its taps
// with it while the namespace stayed.
func TestNodeChassisLeaves(t *testing.T) {
	central := StartOVNCentral(t)
	netns := UniqueName("node")
	addNetNS(t, netns)
	var ch *Chassis
	t.Run("running", func(t *testing.T) {
		ch = StartChassis(t, ChassisOptions{Name: "leaving", SB: central.SB, NetNS: netns, TSO: true})
		if tso := strings.TrimSpace(ch.Vsctl(t, "get", "Open_vSwitch", ".", "other_config:userspace-tso-enable")); tso != `"true"` {
			t.Errorf("userspace-tso-enable = %s, want \"true\"", tso)
		}
		if found, err := presentLinks(netns, IntegrationBridge, datapathTap); err != nil || len(found) != 2 {
			t.Errorf("namespace %s has %v of br-int and ovs-netdev (%v), want both", netns, found, err)
		}
		// Killed and restarted: the cleanup below stops the new one.
		killed := ch.ControllerPID
		ch.KillController(t)
		if err := syscall.Kill(killed, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("killed ovn-controller %d still exists (kill -0: %v)", killed, err)
		}
		ch.RestartController(t)
		if ch.ControllerPID == killed {
			t.Errorf("restarted ovn-controller has the killed one's pid %d", killed)
		}
		run(t, "ovn-appctl", "-t", ch.ControllerControl, "--timeout=10", "version")
	})
	if ch == nil {
		return
	}
	chassis := run(t, "ovn-sbctl", "--db="+central.SB.Endpoint, "--timeout=10", "--bare", "--columns=name", "list", "Chassis")
	if strings.TrimSpace(chassis) != "" {
		t.Errorf("SB still lists chassis %q after ovn-controller exited", chassis)
	}
	if !netnsExists(netns) {
		t.Errorf("namespace %s, which the test made, was deleted by the chassis's cleanup", netns)
	}
	if found, err := presentLinks(netns, IntegrationBridge, datapathTap); err != nil || len(found) > 0 {
		t.Errorf("namespace %s still has %v (%v)", netns, found, err)
	}
	for _, pid := range []int{ch.VswitchdPID, ch.ControllerPID, ch.OVS.PID} {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("pid %d still exists after cleanup (kill -0: %v)", pid, err)
		}
	}
}
