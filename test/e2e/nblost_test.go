package e2e

import (
	"testing"
	"time"

	"github.com/ovnet/ovnet/pkg/annotation"
)

// With OVN's own daemons in play (ovn-northd and ovn-controller follow
// the database from empty back to rebuilt), running pods keep or get back
// their network on the addresses they had, across subnets, and the next
// pod is served. The ping's loss is printed: it is what users see.
func TestNorthboundLostPodsReconnect(t *testing.T) {
	e := newEnv(t)
	n := e.node("n1")
	rt := n.Runtime(t)
	e.namespace("blue", map[string]string{annotation.CIDR: "10.66.0.0/24"})
	a := rt.AddPod(t, e.pod("default", "a", "n1", nil))
	b := rt.AddPod(t, e.pod("blue", "b", "n1", nil))
	ping(t, a, b.IP.String())

	// A ping every 100 ms for 15 s, the wipe 1 s in: each lost reply is
	// 100 ms of outage.
	loss := pingDuring(a, b.IP.String(), 150, "0.1", time.Second, func() { e.ovn.NB.RestartEmpty(t) })
	e.eventually("pod a reaches pod b again", func() error {
		_, err := a.Exec("ping", "-c", "1", "-W", "1", b.IP.String())
		return err
	})
	ping(t, b, a.IP.String())
	t.Logf("FIGURE NB database recreated empty under running pods, ping every 100 ms across subnets: %s", loss)

	c := rt.AddPod(t, e.pod("default", "c", "n1", nil))
	if c.IP == a.IP || c.IP == b.IP {
		t.Fatalf("pod created after the rebuild got %s, already held", c.IP)
	}
	ping(t, c, b.IP.String())
}
