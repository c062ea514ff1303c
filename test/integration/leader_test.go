package integration

import (
	"testing"

	"github.com/ovnet/ovnet/test/harness"
)

// Two replicas with leader election: one acts, and when it dies without
// releasing its lease the other takes over once the lease expires.
func TestLeaderElectionFailover(t *testing.T) {
	api := harness.StartAPIServer(t, harness.APIServerOptions{})
	nb := harness.StartNorthbound(t)
	bin := harness.BuildController(t)
	election := []string{"--leader-elect=true", "--leader-elect-namespace=default", "--leader-elect-lease-duration=3s"}
	first := harness.StartControllerProcess(t, bin, api, nb, election...)
	second := harness.LaunchControllerProcess(t, bin, api, nb, election...)
	c, err := newClient(api)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: t.Context(), api: api, nb: nb, c: c, view: harness.WatchNorthbound(t, nb.Endpoint)}
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
