package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/ovnet/ovnet/test/harness"
)

// A daemon restart in the middle of a ping between two pods loses no
// packet, and the restarted daemon recreates nothing: the pods' OVS
// interfaces and veths are the same rows and devices as before. The
// daemon runs as the chart runs it, its Pod owned by a DaemonSet that
// stays: a restart, not an uninstall, so its exit cleans nothing.
func TestDaemonRestartKeepsTraffic(t *testing.T) {
	e := newEnv(t)
	n := e.node("n1", append(e.daemonSetPod("n1").args, "--enable-mirror")...)
	rt := n.Runtime(t)
	a := rt.AddPod(t, e.pod("default", "a", "n1", map[string]string{"ovn.kubernetes.io/ingress_rate": "50"}))
	b := rt.AddPod(t, e.pod("default", "b", "n1", nil))
	before := ovsState(t, n)
	veths := strings.Join(hostVeths(t, n), ",")

	loss := pingDuring(a, b.IP.String(), 60, "0.05", 500*time.Millisecond, func() { // 3 s
		n.StopDaemon(t)
		n.StartDaemon(t)
	})
	if !strings.Contains(loss, " 0% packet loss") {
		t.Errorf("ping across the daemon restart: %s", loss)
	}
	if after := ovsState(t, n); after != before {
		t.Errorf("the restart changed OVS:\nbefore %s\nafter  %s", before, after)
	}
	if after := strings.Join(hostVeths(t, n), ","); after != veths {
		t.Errorf("the restart changed the veths: before %s, after %s", veths, after)
	}
	// And the restarted daemon serves the next pod.
	c := rt.AddPod(t, e.pod("default", "c", "n1", nil))
	ping(t, c, a.IP.String())
}

// ovsState is the identity of every interface, QoS and mirror row: a
// row deleted and recreated gets a new UUID.
func ovsState(t *testing.T, n *harness.Node) string {
	t.Helper()
	var parts []string
	for _, table := range []string{"interface", "port", "qos", "queue", "mirror"} {
		parts = append(parts, table+": "+strings.Join(strings.Fields(
			n.Chassis.Vsctl(t, "--bare", "--columns=_uuid", "list", table)), " "))
	}
	return strings.Join(parts, "; ")
}
