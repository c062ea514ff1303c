package integration

import (
	"testing"

	"github.com/ovnet/ovnet/test/harness"
)

// Two replicas with leader election: one acts, and when it dies without
// releasing its lease the other takes over once the lease expires.
func TestLeaderElectionFailover(t *testing.T) {
	e := newParts(t)
	bin := harness.BuildController(t)
	election := []string{"--leader-elect=true", "--leader-elect-namespace=default", "--leader-elect-lease-duration=3s"}
	first := harness.StartControllerProcess(t, bin, e.api, e.nb, election...)
	second := harness.LaunchControllerProcess(t, bin, e.api, e.nb, election...)
	e.pod("default", "before", nil)
	e.checkPort(e.addressed("default", "before"))

	first.Kill()
	second.WaitReady(t)
	e.pod("default", "after", nil)
	after := e.addressed("default", "after")
	e.checkPort(after)
	if after.Annotations["ovn.kubernetes.io/ip_address"] == e.addressed("default", "before").Annotations["ovn.kubernetes.io/ip_address"] {
		t.Fatal("the new leader handed out the old leader's address again")
	}
}
