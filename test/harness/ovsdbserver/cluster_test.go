package ovsdbserver

import (
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// A cluster keeps its data through the loss of its leader and of a
// member's disk, and its members are gone after cleanup.
func TestClusterSurvivesLeaderKillAndEmptyRejoin(t *testing.T) {
	r := &recorder{T: t}
	var c *Cluster
	done := make(chan struct{})
	go func() { defer close(done); c = StartCluster(r, ClusterOptions{Schema: NorthboundSchema}) }()
	<-done
	if c == nil {
		r.runCleanups()
		t.Fatalf("StartCluster failed: %s", r.fatal)
	}
	defer r.runCleanups()
	transact := func(m *Member, op string) string {
		t.Helper()
		out, err := exec.Command("ovsdb-client", "--timeout=10", "transact", m.Endpoint,
			`["OVN_Northbound",`+op+`]`).CombinedOutput()
		if err != nil {
			t.Fatalf("ovsdb-client transact %s: %v: %s", m.Endpoint, err, out)
		}
		return string(out)
	}
	insert := func(name string) {
		transact(c.Leader(), `{"op":"insert","table":"Logical_Switch","row":{"name":"`+name+`"}}`)
	}
	insert("before-kill")

	old := c.Leader()
	pid := old.PID()
	c.Kill(old)
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("killed leader pid %d still there: %v", pid, err)
	}
	if next := c.Leader(); next == old {
		t.Fatalf("leader %s still leads after its kill", old)
	}
	insert("after-kill")
	c.Start(old)
	c.waitMember(old)

	follower := c.Members[0]
	if follower == c.Leader() {
		follower = c.Members[1]
	}
	c.Kill(follower)
	c.RejoinEmpty(follower)
	// The rejoined member serves the data it caught up on; a read from a
	// follower needs no leader.
	out := transact(follower, `{"op":"select","table":"Logical_Switch","where":[],"columns":["name"]}`)
	for _, name := range []string{"before-kill", "after-kill"} {
		if !strings.Contains(out, name) {
			t.Errorf("rejoined %s lacks switch %s: %s", follower, name, out)
		}
	}
	if s := c.Status(c.Leader()); strings.Count(s, " at tcp:") != 3 {
		t.Errorf("cluster has not 3 servers after the rejoin:\n%s", s)
	}
	pids := []int{}
	for _, m := range c.Members {
		pids = append(pids, m.PID())
	}
	r.runCleanups()
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("member pid %d still there after cleanup: %v", pid, err)
		}
	}
}
